/**
 * Diagnostics for the latency gap: one side Herald, the other the raw loop, on Herald's stream.
 * `herald-pub`: Herald's `publish()` with the raw loop's reader; `herald-sub`: the raw loop
 * publishing the fields of a Herald envelope (one `sendCommand(…, { timeout: 0 })` per event)
 * with a Herald subscription. Together with the raw and Herald latency rows of the same run
 * they say which side adds the latency and the CPU.
 */
import { partitionKeys } from '../../src/index.ts';
import { latencyAt, type Pipe } from '../drive.ts';
import { makePayload, SMALL, type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { HeraldPipe } from './herald.ts';
import { client, envelopeArgs, RawPipe } from './raw.ts';

/** Publishes with one pipe, delivers through another. */
class MixedPipe implements Pipe {
  constructor(
    private readonly publisher: (seq: number, t: number) => Promise<unknown>,
    private readonly reader: Pipe,
    private readonly closeAll: () => Promise<void>,
  ) {}

  get onDelivery(): ((data: OrderPayload) => void) | undefined {
    return this.reader.onDelivery;
  }

  set onDelivery(f: ((data: OrderPayload) => void) | undefined) {
    this.reader.onDelivery = f;
  }

  publishBatch(): Promise<void> {
    return Promise.reject(new Error('the mixed pipes measure latency only'));
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    return this.publisher(seq, t);
  }

  delivered(): number {
    return this.reader.delivered();
  }

  settled(): Promise<boolean> {
    return this.reader.settled();
  }

  close(): Promise<void> {
    return this.closeAll();
  }
}

async function open(ctx: ScenarioContext, heraldSide: 'pub' | 'sub'): Promise<MixedPipe> {
  if (heraldSide === 'pub') {
    const herald = await HeraldPipe.open(ctx, { groups: 0 });
    const stream = partitionKeys(ctx.keyPrefix, herald.topic, 0).stream;
    const raw = await RawPipe.open(ctx.url, stream, 'timeout0');
    return new MixedPipe(
      (seq, t) => herald.publishOne(seq, t),
      raw,
      async () => {
        await raw.close();
        await herald.close();
      },
    );
  }
  const herald = await HeraldPipe.open(ctx, {});
  const stream = partitionKeys(ctx.keyPrefix, herald.topic, 0).stream;
  const c = await client(ctx.url);
  return new MixedPipe(
    (seq, t) => c.sendCommand(envelopeArgs(stream, makePayload(seq, SMALL, t)), { timeout: 0 }),
    herald,
    async () => {
      await herald.close();
      await c.close();
    },
  );
}

export const mixedLatency =
  (heraldSide: 'pub' | 'sub', rate: number) =>
  async (ctx: ScenarioContext): Promise<RunResult> => {
    const pipe = await open(ctx, heraldSide);
    try {
      return await latencyAt(ctx, pipe, rate);
    } finally {
      await pipe.close();
    }
  };
