/**
 * The raw node-redis loop: the floor any library built on this client pays.
 * Publishing is XADD, pipelined (every command of a batch issued in the same
 * tick, which node-redis writes as one batch); consuming is XREADGROUP with
 * COUNT 500 on a blocking connection, JSON.parse of each payload, and one XACK
 * per batch on the publishing connection.
 */
import { createClient } from 'redis';
import { endToEnd, highestSustained, latencyAt, publishOnly, type Pipe } from '../drive.ts';
import { makePayload, SMALL, type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';

function newClient(url: string) {
  const c = createClient({ url, socket: { noDelay: true } });
  c.on('error', () => {});
  return c;
}

/** A node-redis client, as the raw scenarios use it. */
export type RawClient = ReturnType<typeof newClient>;
type Client = RawClient;
type RawEntry = [string, string[] | null];
type ReadReply = Record<string, RawEntry[]> | [string, RawEntry[]][] | null;

export const RAW_COUNT = 500;
export const BATCH = 500;

/** A connected node-redis client (Nagle off, errors left to the commands). */
export async function client(url: string): Promise<Client> {
  const c = newClient(url);
  await c.connect();
  return c;
}

/** XADD of one JSON payload in a `data` field: what an application on the bare client writes. */
export function xadd(c: Client, stream: string, payload: OrderPayload): Promise<unknown> {
  return c.sendCommand(['XADD', stream, '*', 'data', JSON.stringify(payload)]);
}

export class RawPipe implements Pipe {
  onDelivery: ((data: OrderPayload) => void) | undefined;
  private count = 0;
  private running = true;
  private readonly loops: Promise<void>[] = [];

  private constructor(
    private readonly pub: Client,
    private readonly readers: Client[],
    private readonly stream: string,
    private readonly group: string,
  ) {}

  static async open(url: string, stream: string): Promise<RawPipe> {
    const pub = await client(url);
    await pub.sendCommand(['XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM']);
    const reader = await client(url);
    const pipe = new RawPipe(pub, [reader], stream, 'g');
    pipe.loops.push(pipe.readLoop(reader, 'c1'));
    return pipe;
  }

  private async readLoop(reader: Client, consumer: string): Promise<void> {
    const { stream, group } = this;
    while (this.running) {
      let reply: ReadReply;
      try {
        reply = await reader.sendCommand<ReadReply>([
          'XREADGROUP',
          'GROUP',
          group,
          consumer,
          'COUNT',
          String(RAW_COUNT),
          'BLOCK',
          '1000',
          'STREAMS',
          stream,
          '>',
        ]);
      } catch (e) {
        if (!this.running) return;
        throw e;
      }
      if (!reply) continue;
      for (const [, entries] of Array.isArray(reply) ? reply : Object.entries(reply)) {
        const ids: string[] = [];
        for (const [id, fields] of entries) {
          ids.push(id);
          if (!fields) continue;
          const data = JSON.parse(fields[1] as string) as OrderPayload;
          this.count++;
          this.onDelivery?.(data);
        }
        if (ids.length > 0) void this.pub.sendCommand(['XACK', stream, group, ...ids]);
      }
    }
  }

  publishBatch(from: number, n: number): Promise<void> {
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) all.push(xadd(this.pub, this.stream, makePayload(from + i, SMALL)));
    return Promise.all(all).then(() => undefined);
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    return xadd(this.pub, this.stream, makePayload(seq, SMALL, t));
  }

  delivered(): number {
    return this.count;
  }

  async settled(): Promise<boolean> {
    const summary = await this.pub.sendCommand<unknown[]>(['XPENDING', this.stream, this.group]);
    return Number(summary[0]) === 0;
  }

  async close(): Promise<void> {
    this.running = false;
    for (const r of this.readers) r.destroy();
    await Promise.allSettled(this.loops);
    await this.pub.close();
  }
}

export async function rawPublish(ctx: ScenarioContext): Promise<RunResult> {
  const c = await client(ctx.url);
  try {
    const stream = `${ctx.keyPrefix}:raw-publish`;
    return await publishOnly(
      ctx,
      (from, n) => {
        const all: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) all.push(xadd(c, stream, makePayload(from + i, SMALL)));
        return Promise.all(all).then(() => undefined);
      },
      BATCH,
    );
  } finally {
    await c.close();
  }
}

async function withPipe(
  ctx: ScenarioContext,
  run: (pipe: RawPipe) => Promise<RunResult>,
): Promise<RunResult> {
  const pipe = await RawPipe.open(ctx.url, `${ctx.keyPrefix}:raw`);
  try {
    return await run(pipe);
  } finally {
    await pipe.close();
  }
}

export const rawEndToEnd = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, (pipe) => endToEnd(ctx, pipe, { batch: BATCH }));

export const rawLatency =
  (rate: number) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, (pipe) => latencyAt(ctx, pipe, rate));

export const rawLatencyMax = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, (pipe) => highestSustained(ctx, pipe, ctx.quick ? 2000 : 2500));
