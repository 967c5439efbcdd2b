/**
 * Publishing to a topic's streams. The hot path is one XADD per event, all
 * events of a batch written in one round trip; an event with an explicit id
 * goes through the publish-dedupe script instead, which stores it at most once
 * per dedupe window.
 */
import type { PublishOptions } from '../core/contract.ts';
import { HeraldError } from '../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { prepareEvents } from '../core/prepare.ts';
import type { Topic } from '../core/topic.ts';
import { withDeadline, type Args, type RedisConnection } from './connection.ts';
import { toHeraldError } from './errors.ts';
import { partitionKeys, type PartitionKeys } from './keys.ts';
import type { TopicRegistry } from './registry.ts';
import { loadScript, runScript } from './scripts.ts';

const publishDedupe = loadScript('publish-dedupe');

/** Checks run before anything is written (the capacity guard is one). Throw to refuse. */
export type PublishGuard = (topic: Topic<unknown>, count: number) => void;

/** Runs after the events were written, before publish resolves (replicated durability is one). */
export type PublishFinisher = (
  topic: Topic<unknown>,
  receipts: readonly PublishReceipt[],
  options: PublishOptions | undefined,
) => Promise<void>;

export interface PublisherDeps {
  readonly conn: RedisConnection;
  readonly prefix: string;
  readonly source: string;
  readonly registry: TopicRegistry;
  readonly guards: PublishGuard[];
  readonly finishers: PublishFinisher[];
  /** MAXLEN applied when appending (approximate), per topic; undefined: no trimming on publish. */
  readonly maxLenFor?: ((topic: Topic<unknown>) => number | undefined) | undefined;
  readonly onPublished?: ((topic: string, count: number) => void) | undefined;
  readonly onError?: ((topic: string, error: HeraldError) => void) | undefined;
  /**
   * The connection to write on, when not the shared one. Replicated durability
   * needs its own connection: WAIT counts only the writes of the connection it runs on.
   */
  readonly connectionFor?:
    | ((topic: Topic<unknown>, options: PublishOptions | undefined) => RedisConnection | undefined)
    | undefined;
}

interface Prepared {
  readonly keys: PartitionKeys;
  readonly id: string | undefined;
  readonly fields: string[];
}

export class StreamPublisher {
  private readonly keyCache = new WeakMap<Topic<unknown>, PartitionKeys[]>();
  constructor(private readonly deps: PublisherDeps) {}

  async publish<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt> {
    const [receipt] = await this.publishBatch(topic, [event], options);
    return receipt as PublishReceipt;
  }

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
    options?: PublishOptions,
  ): Promise<PublishReceipt[]> {
    try {
      if (events.length === 0) return [];
      const prepared = await this.prepare(topic, events);
      for (const guard of this.deps.guards) guard(topic, events.length);
      await this.deps.registry.ensure(topic);
      const receipts = await this.write(topic, prepared, options);
      for (const finish of this.deps.finishers) await finish(topic, receipts, options);
      this.deps.onPublished?.(topic.name, receipts.length);
      return receipts;
    } catch (e) {
      const err = toHeraldError(e, `publish to '${topic.name}'`);
      this.deps.onError?.(topic.name, err);
      throw err;
    }
  }

  private keysOf(topic: Topic<unknown>, partition: number): PartitionKeys {
    let all = this.keyCache.get(topic);
    if (!all) {
      all = Array.from({ length: topic.partitions }, (_, p) =>
        partitionKeys(this.deps.prefix, topic, p),
      );
      this.keyCache.set(topic, all);
    }
    return all[partition] as PartitionKeys;
  }

  /** Validates and encodes every event before anything is written. */
  private async prepare<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
  ): Promise<Prepared[]> {
    const prepared = await prepareEvents(topic, events, this.deps.source);
    return prepared.map((p) => ({
      keys: this.keysOf(topic, p.partition),
      id: p.id,
      fields: p.fields,
    }));
  }

  private async write(
    topic: Topic<unknown>,
    prepared: Prepared[],
    options: PublishOptions | undefined,
  ): Promise<PublishReceipt[]> {
    const timeoutMs = options?.timeoutMs ?? 5000;
    const maxLen = this.deps.maxLenFor?.(topic);
    // One deadline for the whole batch (below), not a timer per command.
    const sendOpts = { timeoutMs, replyTimer: false };
    const conn = this.deps.connectionFor?.(topic, options) ?? this.deps.conn;
    // All commands are issued in the same tick: node-redis writes them as one pipeline.
    const pending = prepared.map((p) => {
      if (p.id === undefined) {
        const args: Args =
          maxLen === undefined
            ? ['XADD', p.keys.stream, '*', ...p.fields]
            : ['XADD', p.keys.stream, 'MAXLEN', '~', String(maxLen), '*', ...p.fields];
        return conn
          .send<string>(args, { ...sendOpts, key: p.keys.stream })
          .then((pos) => [1, pos] as const);
      }
      return runScript<[number, string]>(
        conn,
        publishDedupe,
        [p.keys.stream, p.keys.dedupePrefix + p.id],
        [String(topic.dedupeWindowMs), maxLen === undefined ? '' : String(maxLen), ...p.fields],
        sendOpts,
      );
    });
    const settled = await withDeadline(Promise.allSettled(pending), 'XADD', timeoutMs);
    const receipts: PublishReceipt[] = [];
    let firstError: unknown;
    let failed = 0;
    settled.forEach((s, i) => {
      const p = prepared[i] as Prepared;
      if (s.status === 'rejected') {
        failed++;
        firstError ??= s.reason;
        return;
      }
      const [added, position] = s.value as readonly [number, string];
      receipts.push({
        id: p.id ?? `${topic.name}:${p.keys.partition}:${position}`,
        topic: topic.name,
        partition: p.keys.partition,
        position: String(position),
        duplicate: Number(added) === 0,
      });
    });
    if (firstError !== undefined) {
      const err = toHeraldError(firstError, `publish to '${topic.name}'`);
      if (prepared.length > 1) {
        err.message = `${failed} of ${prepared.length} events may not be stored (retry them with the same ids): ${err.message}`;
      }
      throw err;
    }
    return receipts;
  }
}
