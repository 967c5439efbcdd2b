/**
 * The raw node-redis loops: the floor any library built on this client pays.
 * Publishing is XADD of a JSON payload in a `data` field, a batch per round
 * trip; consuming is XREADGROUP with COUNT 500 on a blocking connection,
 * JSON.parse of each payload, and one XACK per batch on the publishing connection.
 *
 * Three ways to send, each a scenario of its own, measured in the same run:
 * - `pipeline`: each batch of XADDs as one `multi().execAsPipeline()`;
 * - `timeout0`: each command with `sendCommand(args, { timeout: 0 })`, a batch
 *   issued in one tick (node-redis writes it as one pipeline);
 * - `default`: `sendCommand(args)` with node-redis's defaults, which arm a 5 s
 *   timeout signal per command: what a loop written without care costs.
 * The floor ("raw") is whichever of `pipeline` and `timeout0` is faster in the
 * same run (aggregate.ts picks it); `default` is shown for scale only.
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

/** How a raw loop sends its commands (see the file comment). */
export type RawSend = 'pipeline' | 'timeout0' | 'default' | 'envelope' | 'envelope-fields';

/** What each way of sending is called in the report. */
export const RAW_SEND_LABEL: Readonly<Record<RawSend, string>> = {
  pipeline: 'multi().execAsPipeline() per batch',
  timeout0: 'sendCommand(…, { timeout: 0 }) per command',
  default: 'sendCommand(…) with node-redis defaults (5 s timeout per command)',
  envelope:
    'sendCommand(…, { timeout: 0 }), writing a Herald envelope (compact layout: `ce` = [type, source, data])',
  'envelope-fields':
    "sendCommand(…, { timeout: 0 }), writing a Herald envelope in the 'fields' layout (specversion, type, source, data)",
};

const NO_TIMEOUT = { timeout: 0 } as const;

/** A connected node-redis client (Nagle off, errors left to the commands). */
export async function client(url: string): Promise<Client> {
  const c = newClient(url);
  await c.connect();
  return c;
}

/** One command, sent the way `send` says (a lone command is never worth a MULTI object). */
function command<T = unknown>(c: Client, send: RawSend, args: string[]): Promise<T> {
  return send === 'default' ? c.sendCommand<T>(args) : c.sendCommand<T>(args, NO_TIMEOUT);
}

function xaddArgs(stream: string, payload: OrderPayload): string[] {
  return ['XADD', stream, '*', 'data', JSON.stringify(payload)];
}

/**
 * The same XADD with the fields a Herald envelope stores for such an event, in Herald's default
 * (compact) layout: `ce` = `[type, source, data]`. What the envelope costs node-redis and Redis,
 * apart from Herald's own code (a diagnostic row, never the floor).
 */
export function envelopeArgs(stream: string, payload: OrderPayload): string[] {
  return ['XADD', stream, '*', 'ce', JSON.stringify(['orders', 'bench', payload])];
}

/** The same in the `fields` layout (specversion, type, source, data: eight strings). */
export function envelopeFieldsArgs(stream: string, payload: OrderPayload): string[] {
  return [
    'XADD',
    stream,
    '*',
    'specversion',
    '1.0',
    'type',
    'orders',
    'source',
    'bench',
    'data',
    JSON.stringify(payload),
  ];
}

/**
 * The payload of an entry as a bare reader takes it: the last value is the JSON (`data`, the
 * only field, or the last of an envelope's fields), or the compact envelope's `[type, source,
 * data]`.
 */
export function payloadOf(fields: readonly unknown[]): OrderPayload {
  const parsed = JSON.parse(fields[fields.length - 1] as string) as unknown;
  return (fields[0] === 'ce' ? (parsed as unknown[])[2] : parsed) as OrderPayload;
}

/** XADD of one JSON payload in a `data` field: what an application on the bare client writes. */
export function xadd(c: Client, stream: string, payload: OrderPayload): Promise<unknown> {
  return c.sendCommand(xaddArgs(stream, payload), NO_TIMEOUT);
}

/** XADD of events [from, from + n) in one round trip; resolves when all are stored. */
export async function xaddBatch(
  c: Client,
  send: RawSend,
  stream: string,
  from: number,
  n: number,
): Promise<void> {
  if (send === 'pipeline') {
    const multi = c.multi();
    for (let i = 0; i < n; i++) multi.addCommand(xaddArgs(stream, makePayload(from + i, SMALL)));
    await multi.execAsPipeline();
    return;
  }
  const args =
    send === 'envelope' ? envelopeArgs : send === 'envelope-fields' ? envelopeFieldsArgs : xaddArgs;
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++)
    all.push(command(c, send, args(stream, makePayload(from + i, SMALL))));
  await Promise.all(all);
}

export class RawPipe implements Pipe {
  onDelivery: ((data: OrderPayload) => void) | undefined;
  private count = 0;
  private running = true;
  private readonly loops: Promise<void>[] = [];
  /** publishOne's XADDs of the current tick, when they go as one MULTI/EXEC. */
  private tick: { args: string[][]; done: Promise<unknown> } | undefined;

  private constructor(
    private readonly pub: Client,
    private readonly readers: Client[],
    private readonly stream: string,
    private readonly group: string,
    private readonly send: RawSend,
    private readonly tickTransaction: boolean,
  ) {}

  /**
   * `tickTransaction`: publishOne's XADDs of one tick go as one MULTI/EXEC (what Herald's
   * publish() does on standalone Redis), so a blocked reader is woken once for all of them.
   */
  static async open(
    url: string,
    stream: string,
    send: RawSend,
    tickTransaction = false,
  ): Promise<RawPipe> {
    const pub = await client(url);
    await pub.sendCommand(['XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM']);
    const reader = await client(url);
    const pipe = new RawPipe(pub, [reader], stream, 'g', send, tickTransaction);
    pipe.loops.push(pipe.readLoop(reader, 'c1'));
    return pipe;
  }

  private async readLoop(reader: Client, consumer: string): Promise<void> {
    const { stream, group, send } = this;
    const read = [
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
    ];
    while (this.running) {
      let reply: ReadReply;
      try {
        reply = await command<ReadReply>(reader, send, read);
      } catch (e) {
        if (!this.running) return;
        throw e;
      }
      if (!reply) continue;
      for (const [, entries] of Array.isArray(reply) ? reply : Object.entries(reply)) {
        const ack: string[] = ['XACK', stream, group];
        for (const [id, fields] of entries) {
          ack.push(id);
          if (!fields) continue;
          const data = payloadOf(fields);
          this.count++;
          this.onDelivery?.(data);
        }
        if (ack.length > 3) void command(this.pub, send, ack);
      }
    }
  }

  publishBatch(from: number, n: number): Promise<void> {
    return xaddBatch(this.pub, this.send, this.stream, from, n);
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    const args = xaddArgs(this.stream, makePayload(seq, SMALL, t));
    if (!this.tickTransaction) return command(this.pub, this.send, args);
    if (this.tick === undefined) {
      const all: string[][] = [];
      const done = new Promise<unknown>((resolve, reject) =>
        queueMicrotask(() => {
          this.tick = undefined;
          const m = this.pub.multi();
          for (const a of all) m.addCommand(a);
          m.exec().then(resolve, reject);
        }),
      );
      this.tick = { args: all, done };
    }
    this.tick.args.push(args);
    return this.tick.done;
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

export const rawPublish =
  (send: RawSend) =>
  async (ctx: ScenarioContext): Promise<RunResult> => {
    const c = await client(ctx.url);
    try {
      const stream = `${ctx.keyPrefix}:raw-publish`;
      const result = await publishOnly(
        ctx,
        (from, n) => xaddBatch(c, send, stream, from, n),
        BATCH,
      );
      return { ...result, detail: { ...result.detail, send } };
    } finally {
      await c.close();
    }
  };

async function withPipe(
  ctx: ScenarioContext,
  send: RawSend,
  run: (pipe: RawPipe) => Promise<RunResult>,
  tickTransaction = false,
): Promise<RunResult> {
  const pipe = await RawPipe.open(ctx.url, `${ctx.keyPrefix}:raw`, send, tickTransaction);
  try {
    return await run(pipe);
  } finally {
    await pipe.close();
  }
}

export const rawEndToEnd =
  (send: RawSend) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, send, (pipe) => endToEnd(ctx, pipe, { batch: BATCH }));

/** Latency: one XADD per publish call, sent with `{ timeout: 0 }` (the floor's way for a lone command). */
export const rawLatency =
  (rate: number) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, 'timeout0', (pipe) => latencyAt(ctx, pipe, rate));

/** Latency, the XADDs of a tick in one MULTI/EXEC: the floor's loop doing what Herald's publish() does. */
export const rawLatencyTransaction =
  (rate: number) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, 'timeout0', (pipe) => latencyAt(ctx, pipe, rate), true);

export const rawLatencyMax = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, 'timeout0', (pipe) => highestSustained(ctx, pipe, ctx.quick ? 2000 : 2500));
