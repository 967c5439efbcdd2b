/**
 * Separate processes: one producer process and one or two consumer processes (one group), raw
 * node-redis or Herald, each measuring its own Node CPU. The producer publishes 500 per round
 * trip; the consumers read 500 at a time and acknowledge once per batch. The figures are Node
 * CPU per event of the producer and of the consumers together (each event is handled once).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionKeys, defineTopic } from '../../src/index.ts';
import { until, runResult, warmUpEvents } from '../drive.ts';
import type { SplitCommand, SplitReply, SplitSetup } from '../split-worker.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { client, type RawClient } from './raw.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const GROUP = 'g';

class Worker {
  private readonly replies: SplitReply[] = [];
  private waiting: (() => void) | undefined;
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    child.on('message', (m: SplitReply) => {
      this.replies.push(m);
      this.waiting?.();
    });
    child.on('exit', () => {
      this.exited = true;
      this.waiting?.();
    });
  }

  static start(): Worker {
    return new Worker(
      fork(path.join(here, '..', 'split-worker.ts'), [], {
        // `--profile` (node --cpu-prof) reaches the producer and consumer processes too.
        execArgv: [
          '--import',
          import.meta.resolve('tsx'),
          ...process.execArgv.filter((a) => a.startsWith('--cpu-prof')),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
  }

  /** Sends a command and waits for the reply of the type asked. */
  async ask<K extends SplitReply['type']>(
    command: SplitCommand,
    type: K,
  ): Promise<Extract<SplitReply, { type: K }>> {
    this.child.send(command);
    for (;;) {
      const i = this.replies.findIndex((r) => r.type === type || r.type === 'failed');
      if (i >= 0) {
        const [r] = this.replies.splice(i, 1) as [SplitReply];
        if (r.type === 'failed') throw new Error(`split worker: ${r.message}`);
        return r as Extract<SplitReply, { type: K }>;
      }
      if (this.exited) throw new Error('split worker exited');
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  stop(): void {
    if (!this.exited) this.child.send({ cmd: 'exit' } satisfies SplitCommand);
    setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
  }
}

/** Pending and lag of the group (XINFO GROUPS; RESP2 lists or RESP3 maps). */
async function drained(c: RawClient, stream: string): Promise<boolean> {
  const groups = await c.sendCommand<unknown[]>(['XINFO', 'GROUPS', stream]);
  for (const g of groups) {
    const info: Record<string, unknown> = Array.isArray(g)
      ? Object.fromEntries(
          Array.from({ length: g.length / 2 }, (_, i) => [String(g[2 * i]), g[2 * i + 1]]),
        )
      : (g as Record<string, unknown>);
    if (String(info.name) !== GROUP) continue;
    return Number(info.pending) === 0 && Number(info.lag) === 0;
  }
  return false;
}

/**
 * Who runs each side: `raw` and `herald` both sides; `envelope` is a diagnostic, a Herald producer
 * and raw consumers reading its entries (what consuming Herald's envelope costs the bare client,
 * the comparison for Herald's own consumer code).
 */
export type SplitLibrary = 'raw' | 'herald' | 'envelope';

export const splitProcesses =
  (library: SplitLibrary, consumers: number) =>
  async (ctx: ScenarioContext): Promise<RunResult> => {
    const stream =
      library === 'raw'
        ? `${ctx.keyPrefix}:split`
        : partitionKeys(ctx.keyPrefix, defineTopic({ name: 'orders' }), 0).stream;
    const admin = await client(ctx.url);
    if (library !== 'herald')
      await admin.sendCommand(['XGROUP', 'CREATE', stream, GROUP, '$', 'MKSTREAM']);
    const setup = (role: SplitSetup['role'], consumer: string): SplitSetup => ({
      role,
      library: library === 'envelope' ? (role === 'producer' ? 'herald' : 'raw') : library,
      url: ctx.url,
      prefix: ctx.keyPrefix,
      stream,
      group: GROUP,
      consumer,
    });
    const readers = Array.from({ length: consumers }, () => Worker.start());
    const producer = Worker.start();
    try {
      await Promise.all(
        readers.map((w, i) => w.ask({ cmd: 'start', setup: setup('consumer', `c${i}`) }, 'ready')),
      );
      await producer.ask({ cmd: 'start', setup: setup('producer', 'p') }, 'ready');
      const warm = warmUpEvents(ctx, 500);
      await producer.ask({ cmd: 'publish', from: 0, count: warm }, 'published');
      await until(() => drained(admin, stream), 60_000, 'warm-up events consumed');
      await Promise.all(readers.map((w) => w.ask({ cmd: 'mark' }, 'marked')));
      const section = ctx.probe.begin();
      const published = await producer.ask(
        { cmd: 'publish', from: warm, count: ctx.events },
        'published',
      );
      await until(() => drained(admin, stream), 300_000, `${ctx.events} events consumed`);
      const reports = await Promise.all(readers.map((w) => w.ask({ cmd: 'report' }, 'report')));
      const cost = await section.end();
      const consumerCpuUs = reports.reduce((a, r) => a + r.cpuUs, 0);
      const delivered = reports.reduce((a, r) => a + r.delivered, 0);
      if (delivered < ctx.events)
        throw new Error(`only ${delivered} of ${ctx.events} events were handled`);
      return runResult(
        ctx.events,
        { ...cost, nodeCpuUs: published.cpuUs + consumerCpuUs },
        {
          detail: {
            consumers,
            producerCpuUsPerEvent: published.cpuUs / ctx.events,
            consumerCpuUsPerEvent: consumerCpuUs / ctx.events,
          },
        },
      );
    } finally {
      for (const w of [producer, ...readers]) w.stop();
      await admin.close();
    }
  };
