/**
 * What a measured section cost: wall time, this process's CPU
 * (process.cpuUsage), redis-server's CPU (INFO cpu: used_cpu_user + sys, which
 * works for a remote Redis too) and the commands Redis executed (INFO
 * commandstats). On a shared Redis the Redis-side figures include other clients.
 */
import { client, type RawClient } from './scenarios/raw.ts';

export interface RedisSample {
  /** used_cpu_user + used_cpu_sys, in microseconds. */
  readonly cpuUs: number;
  /** Calls per command, e.g. { xadd: 1200, xreadgroup: 3 }. */
  readonly calls: Readonly<Record<string, number>>;
}

export interface SectionCost {
  readonly seconds: number;
  readonly nodeCpuUs: number;
  readonly redisCpuUs: number;
  /** Commands run by Redis during the section, by name (lower case), without the probe's own INFO calls. */
  readonly commands: Readonly<Record<string, number>>;
}

/** Parses the text of `INFO cpu commandstats`. */
export function parseInfo(text: string): RedisSample {
  let user = 0;
  let sys = 0;
  const calls: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    if (line.startsWith('used_cpu_user:')) user = Number(line.slice('used_cpu_user:'.length));
    else if (line.startsWith('used_cpu_sys:')) sys = Number(line.slice('used_cpu_sys:'.length));
    else if (line.startsWith('cmdstat_')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (m) calls[m[1] as string] = Number(m[2]);
    }
  }
  return { cpuUs: Math.round((user + sys) * 1e6), calls };
}

export class RedisProbe {
  private constructor(private readonly client: RawClient) {}

  static async connect(url: string): Promise<RedisProbe> {
    return new RedisProbe(await client(url));
  }

  async sample(): Promise<RedisSample> {
    return parseInfo(await this.client.sendCommand<string>(['INFO', 'cpu', 'commandstats']));
  }

  /** Runs `section` and reports what it cost. */
  async measure<T>(section: () => Promise<T>): Promise<{ value: T; cost: SectionCost }> {
    const before = await this.sample();
    const open = this.open(Promise.resolve(before));
    const value = await section();
    return { value, cost: await open.end() };
  }

  /**
   * Starts a section now, synchronously (for a section that begins inside a
   * callback, e.g. at the first message handled); Redis is sampled as soon as possible.
   */
  begin(): { end(): Promise<SectionCost> } {
    return this.open(this.sample());
  }

  private open(before: Promise<RedisSample>): { end(): Promise<SectionCost> } {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    before.catch(() => {});
    return {
      end: async () => {
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const [b, after] = [await before, await this.sample()];
        const commands: Record<string, number> = {};
        for (const [name, n] of Object.entries(after.calls)) {
          // One INFO is counted between the two samples (the second one's own call).
          const delta = n - (b.calls[name] ?? 0) - (name === 'info' ? 1 : 0);
          if (delta > 0) commands[name] = delta;
        }
        return {
          seconds,
          nodeCpuUs: cpu.user + cpu.system,
          redisCpuUs: Math.max(0, after.cpuUs - b.cpuUs),
          commands,
        };
      },
    };
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => this.client.destroy());
  }
}
