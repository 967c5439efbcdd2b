/**
 * Replicated durability: a publish whose durability is `replicated` resolves
 * only once `replicas` replicas confirmed it (Redis WAIT), else rejects with a
 * DurabilityError whose outcome is unknown.
 *
 * WAIT counts the writes of the connection it runs on, and blocks that
 * connection while it waits, so replicated publishes are written on a
 * dedicated connection of their own. A connection runs its commands in order,
 * so a WAIT covers every write sent before it on that connection. WAITs are
 * batched: while one is blocked, the publishes that finish writing meanwhile
 * share the next one, so with a replica down N concurrent publishes take about
 * two timeouts, not N.
 */
import type { Durability, PublishOptions } from '../core/contract.ts';
import { ConfigError, DurabilityError } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisBackend } from '../redis/backend.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';

/** Default WAIT timeout when a replicated durability gives none. */
export const DEFAULT_REPLICATION_TIMEOUT_MS = 1000;

/** The durability that applies to a publish: the publish's own, else the topic's. */
export function durabilityOf(
  topic: Topic<unknown>,
  options: PublishOptions | undefined,
): Durability {
  return options?.durability ?? topic.durability;
}

function checked(
  topic: Topic<unknown>,
  d: Durability & { mode: 'replicated' },
): { replicas: number; timeoutMs: number } {
  const timeoutMs = d.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS;
  if (!Number.isInteger(d.replicas) || d.replicas < 1) {
    throw new ConfigError(
      `publish to '${topic.name}': replicated durability needs replicas ≥ 1, got ${d.replicas}`,
    );
  }
  // WAIT with timeout 0 blocks forever: never what a publisher wants.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError(
      `publish to '${topic.name}': replicated durability needs timeoutMs ≥ 1, got ${timeoutMs}`,
    );
  }
  return { replicas: d.replicas, timeoutMs };
}

interface Batch {
  replicas: number;
  timeoutMs: number;
  readonly keys: Set<string>;
  result?: Promise<number>;
}

/** Issues WAITs on one connection, one at a time, each shared by every publish that joined it. */
class WaitBatcher {
  private tail: Promise<unknown> = Promise.resolve();
  private open: Batch | undefined;

  constructor(private readonly conn: RedisConnection) {}

  /** Resolves to the number of replicas that acknowledged every write sent so far on the connection. */
  wait(replicas: number, timeoutMs: number, keys: readonly string[]): Promise<number> {
    let batch = this.open;
    if (!batch) {
      const b: Batch = { replicas: 0, timeoutMs: 0, keys: new Set() };
      this.open = batch = b;
      b.result = this.tail.then(() => {
        // From here on, a publish that finishes writing joins the next batch (its write follows this WAIT).
        if (this.open === b) this.open = undefined;
        return this.send(b);
      });
      this.tail = b.result.catch(() => undefined);
    }
    batch.replicas = Math.max(batch.replicas, replicas);
    batch.timeoutMs = Math.max(batch.timeoutMs, timeoutMs);
    for (const k of keys) batch.keys.add(k);
    return batch.result as Promise<number>;
  }

  private async send(b: Batch): Promise<number> {
    const args = ['WAIT', String(b.replicas), String(b.timeoutMs)];
    const sendOpts = { timeoutMs: b.timeoutMs + 5000 };
    if (this.conn.kind !== 'cluster') return Number(await this.conn.send<number>(args, sendOpts));
    // In a cluster each partition may live on another node: wait on each node that was written to.
    const counts = await Promise.all(
      [...b.keys].map((key) => this.conn.send<number>(args, { ...sendOpts, key })),
    );
    return Math.min(...counts.map(Number));
  }
}

export interface DurabilityHandle {
  /** Removes replicated durability from the backend and closes its dedicated connection. */
  stop(): Promise<void>;
}

/**
 * Makes the backend honour `durability: { mode: 'replicated' }` of topics and
 * publishes: written on a dedicated connection, then confirmed with WAIT.
 * Too few confirmations in time reject with a DurabilityError (acknowledged,
 * required): the events are on the primary, their fate is unknown.
 */
export async function enableDurability(
  backend: Pick<
    RedisBackend,
    'conn' | 'prefix' | 'publishFinishers' | 'connectionFor' | 'closeHooks'
  >,
): Promise<DurabilityHandle> {
  if (backend.connectionFor)
    throw new ConfigError('replicated durability is already enabled on this backend');
  const dedicated = await backend.conn.duplicate();
  const batcher = new WaitBatcher(dedicated);

  const connectionFor = (
    topic: Topic<unknown>,
    options: PublishOptions | undefined,
  ): RedisConnection | undefined => {
    const d = durabilityOf(topic, options);
    if (d.mode !== 'replicated') return undefined;
    checked(topic, d); // throws before anything is written
    return dedicated;
  };

  const finisher = async (
    topic: Topic<unknown>,
    receipts: readonly PublishReceipt[],
    options: PublishOptions | undefined,
  ): Promise<void> => {
    const d = durabilityOf(topic, options);
    if (d.mode !== 'replicated' || receipts.length === 0) return;
    const { replicas, timeoutMs } = checked(topic, d);
    const keys = [
      ...new Set(receipts.map((r) => partitionKeys(backend.prefix, topic, r.partition).stream)),
    ];
    const unknown =
      `the event${receipts.length > 1 ? 's are' : ' is'} stored on the primary, but the outcome is unknown: ` +
      'delivered if the primary survives, lost if it fails before replicating (retry with the same ids, which are deduplicated)';
    let acknowledged: number;
    try {
      acknowledged = await batcher.wait(replicas, timeoutMs, keys);
    } catch (e) {
      throw new DurabilityError(
        `publish to '${topic.name}': could not confirm replication (${e instanceof Error ? e.message : String(e)}); ${unknown}`,
        { acknowledged: 0, required: replicas },
        { cause: e },
      );
    }
    if (acknowledged < replicas) {
      throw new DurabilityError(
        `publish to '${topic.name}': ${acknowledged} of ${replicas} replica${replicas > 1 ? 's' : ''} confirmed within ${timeoutMs} ms; ${unknown}`,
        { acknowledged, required: replicas },
      );
    }
  };

  backend.connectionFor = connectionFor;
  backend.publishFinishers.push(finisher);

  const handle = {
    async stop() {
      const h = backend.closeHooks.indexOf(stopOnClose);
      if (h >= 0) backend.closeHooks.splice(h, 1);
      if (backend.connectionFor === connectionFor) backend.connectionFor = undefined;
      const i = backend.publishFinishers.indexOf(finisher);
      if (i >= 0) backend.publishFinishers.splice(i, 1);
      await dedicated.close();
    },
  };
  // Stopped by backend.close() too, so the dedicated connection never keeps the process alive.
  const stopOnClose = (): Promise<void> => handle.stop();
  backend.closeHooks.push(stopOnClose);
  return handle;
}
