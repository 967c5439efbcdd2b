/** `herald console`: the operator console and HTTP gateway (see docs/console.md). */
import type { Command } from 'commander';
import { DEFAULT_BODY_LIMIT, DEFAULT_CONSOLE_PORT, startConsole } from '../../console/server.ts';
import { globalOptions } from '../context.ts';
import { note, parsePort, parsePositiveInt, println } from '../output.ts';

interface ConsoleCliOptions {
  port: number;
  host: string;
  tokens?: string;
  bodyLimit?: number;
  rate?: number;
}

/** Adds `herald console`. */
export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('serve the operator console and the HTTP gateway (publish/consume over HTTP)')
    .option('--port <n>', 'port (0: any free port)', parsePort, DEFAULT_CONSOLE_PORT)
    .option('--host <host>', 'address to bind; anything but loopback needs --tokens', '127.0.0.1')
    .option('--tokens <file>', 'bearer tokens and their rights (JSON; or HERALD_CONSOLE_TOKENS)')
    .option(
      '--body-limit <bytes>',
      `largest request body (default ${DEFAULT_BODY_LIMIT})`,
      parsePositiveInt,
    )
    .option('--rate <n>', 'requests per second per token (burst: twice that)', parsePositiveInt)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald console                                   # http://127.0.0.1:7070, no tokens (loopback only)
  $ herald console --port 8080 --url redis://10.0.0.5:6379
  $ herald console --host 0.0.0.0 --tokens /etc/herald/tokens.json

Endpoints: GET /openapi.json lists them all; docs/console.md explains tokens and proxies.`,
    )
    .action(async (opts: ConsoleCliOptions, cmd: Command) => {
      const { url, prefix } = globalOptions(cmd);
      const running = await startConsole({
        ...(url !== undefined ? { url } : {}),
        prefix,
        host: opts.host,
        port: opts.port,
        ...(opts.tokens !== undefined ? { tokensFile: opts.tokens } : {}),
        ...(opts.bodyLimit !== undefined ? { bodyLimitBytes: opts.bodyLimit } : {}),
        ...(opts.rate !== undefined
          ? { rateLimit: { perSecond: opts.rate, burst: opts.rate * 2 } }
          : {}),
      });
      println(
        `Herald console on ${running.url}/ (gateway: ${running.url}/v1, API: ${running.url}/openapi.json)`,
      );
      if (!running.secured) note('no tokens: open to this machine only (loopback)');
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      note('stopping the console…');
      await running.close();
    });
}
