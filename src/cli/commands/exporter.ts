import { InvalidArgumentError, type Command } from 'commander';
import { createExporter, serveExporter } from '../../ops/exporter.ts';
import { displayUrl, globalOptions, openBackend } from '../context.ts';
import {
  note,
  parseDuration,
  parsePort,
  parsePositiveInt,
  printJsonLine,
  println,
} from '../output.ts';

interface ExporterCliOptions {
  port: number;
  host: string;
  cache: number;
  maxTopics: number;
  threshold: number;
  json?: boolean;
}

/** Default port: the one commonly used by Prometheus exporters of application metrics. */
export const EXPORTER_DEFAULT_PORT = 9464;

function parseThreshold(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) {
    throw new InvalidArgumentError('expected a percentage from 1 to 100.');
  }
  return n;
}

/** Adds `herald exporter`. */
export function registerExporterCommand(program: Command): void {
  program
    .command('exporter')
    .description('serve Prometheus metrics read from Redis on /metrics, until Ctrl-C')
    .option(
      '--port <n>',
      'port to listen on; 0 picks a free port',
      parsePort,
      EXPORTER_DEFAULT_PORT,
    )
    .option('--host <host>', "interface to listen on ('0.0.0.0' for all)", '127.0.0.1')
    .option('--cache <duration>', 'reuse a collection for this long', parseDuration, 2000)
    .option(
      '--max-topics <n>',
      'export at most n topics (the first by name)',
      parsePositiveInt,
      500,
    )
    .option(
      '--threshold <percent>',
      'memory use (of maxmemory) from which capacity is not ok',
      parseThreshold,
      90,
    )
    .option('--json', 'print the address as a JSON line once listening')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Per topic, partition and group: stream length and memory, dead letters, lag,
pending, oldest pending age, consumers and their idle time; Redis memory and
the capacity verdict. Work per scrape is bounded and cached (--cache).

Examples:
  $ herald exporter --port ${EXPORTER_DEFAULT_PORT}
  $ herald exporter --port 9464 --host 0.0.0.0 --url redis://prod-redis:6379
  $ curl -s localhost:${EXPORTER_DEFAULT_PORT}/metrics | grep herald_group_lag

Prometheus scrape config:
  - job_name: herald
    static_configs: [{ targets: ['localhost:${EXPORTER_DEFAULT_PORT}'] }]`,
    )
    .action(async (opts: ExporterCliOptions, cmd: Command) => {
      const { url, prefix } = globalOptions(cmd);
      const backend = await openBackend(cmd);
      let served;
      try {
        const exporter = createExporter({
          conn: backend.conn,
          prefix,
          cacheMs: opts.cache,
          maxTopics: opts.maxTopics,
          threshold: opts.threshold / 100,
        });
        served = await serveExporter({ exporter, port: opts.port, host: opts.host });
      } catch (e) {
        await backend.close();
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EADDRINUSE') {
          throw new Error(
            `port ${opts.port} is already in use: choose another with --port N (0 = any free port)`,
            {
              cause: e,
            },
          );
        }
        throw e;
      }
      const metricsUrl = `${served.url}/metrics`;
      if (opts.json)
        printJsonLine({
          url: served.url,
          metricsUrl,
          port: served.port,
          redis: displayUrl(url),
          prefix,
        });
      else
        println(
          `serving Herald metrics of ${displayUrl(url)} (prefix '${prefix}') on ${metricsUrl}`,
        );
      note('Ctrl-C to stop');

      const server = served;
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      await backend.close();
    });
}
