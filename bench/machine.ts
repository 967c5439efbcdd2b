/** What the benchmark ran on: enough to judge whether two result files are comparable. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createClient } from 'redis';
import { redactUrl } from '../src/index.ts';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverageAtStart: readonly number[];
  /** The Herald source measured: git commit, and how many files differ from it. */
  readonly revision: { readonly commit: string; readonly changedFiles: number } | undefined;
}

export interface RedisInfo {
  /** The URL without its password. */
  readonly url: string;
  /** Started by the benchmark (a private redis-server) rather than given. */
  readonly embedded: boolean;
  readonly version: string;
  readonly aof: string;
  readonly appendfsync: string;
  /**
   * Set when the runner kept AOF rewrites out of the scenarios (its private server, not
   * --quick): how many it ran between two scenario processes. See aof-quiet.ts.
   */
  readonly aofRewritesBetweenScenarios?: number;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function revision(): MachineInfo['revision'] {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, {
        cwd: new URL('..', import.meta.url),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const changedFiles = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter(Boolean).length;
    return { commit, changedFiles };
  } catch {
    return undefined; // not a git checkout
  }
}

export function machineInfo(): MachineInfo {
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    revision: revision(),
  };
}

/** The URL with its password masked (also when no URL parser accepts it). */
export { redactUrl };

export async function redisInfo(url: string, embedded: boolean): Promise<RedisInfo> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    const text = await c.sendCommand<string>(['INFO', 'server', 'persistence']);
    const field = (name: string): string =>
      new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? 'unknown';
    let appendfsync = 'unknown';
    try {
      const reply = await c.sendCommand<Record<string, string> | string[]>([
        'CONFIG',
        'GET',
        'appendfsync',
      ]);
      appendfsync = (Array.isArray(reply) ? reply[1] : reply.appendfsync) ?? 'unknown';
    } catch {
      /* CONFIG may be disabled on a managed Redis */
    }
    return {
      url: redactUrl(url),
      embedded,
      version: field('redis_version'),
      aof: field('aof_enabled') === '1' ? 'on' : 'off',
      appendfsync,
    };
  } finally {
    await c.close();
  }
}
