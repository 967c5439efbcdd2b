import type { Durability } from './contract.ts';
import type { StandardSchemaV1 } from './schema.ts';
import { ConfigError } from './errors.ts';

/**
 * How a topic's events are stored in stream entries.
 * - `envelope` (default): Herald's CloudEvents envelope, payload as JSON in `data`.
 * - `raw`: plain field/value entries as any Redis client writes them; the
 *   event's `data` is the entry's fields as a `Record<string, string>`.
 */
export type TopicCodec = 'envelope' | 'raw';

/**
 * How an envelope topic writes its entries. Readers decode both layouts, so a topic can change
 * its layout while it runs.
 * - `compact` (default): one field `ce` holding the JSON array `[type, source, data]`; the
 *   optional attributes (id, time, subject, key, traceparent, headers) get their own fields.
 *   Two strings for the usual event, as a hand-written XADD of the payload.
 * - `fields`: every attribute its own field (`specversion`, `type`, `source`, …, `data`), the
 *   layout of Herald's development versions before the compact one. For foreign readers that
 *   look for those fields; it costs about 1.3x the client CPU per event (docs/performance.md).
 */
export type EnvelopeLayout = 'compact' | 'fields';

export interface TopicOptions<S extends StandardSchemaV1 | undefined = undefined> {
  /** Letters, digits, `.`, `_` and `-`; at most 200 characters. */
  readonly name: string;
  /** Validates `data` at publish and at consume. Any Standard Schema validator. */
  readonly schema?: S;
  /** Independent streams the topic is spread over; events with the same key share one. Default 1. */
  readonly partitions?: number;
  /** Default 'envelope'. */
  readonly codec?: TopicCodec;
  /** How envelope entries are written; see {@link EnvelopeLayout}. Default 'compact'. */
  readonly envelopeLayout?: EnvelopeLayout;
  /**
   * Bind the topic to an existing stream key written or read by other clients
   * (redis-cli, Python, Go). Requires `partitions: 1`.
   */
  readonly streamKey?: string;
  /** CloudEvents `type` used when a publish gives none. Default: the topic name. */
  readonly defaultType?: string;
  /** How long an event id is remembered for deduplication. Default 10 minutes, at most 7 days. */
  readonly dedupeWindowMs?: number;
  /**
   * Largest event accepted, in bytes of the stored entry (UTF-8 field names and values,
   * payload included). A larger event fails its publish with a ValidationError. Default 1 MiB.
   */
  readonly maxEventBytes?: number;
  /**
   * Store every CloudEvents attribute as its own stream field even when Herald
   * could derive it (id, time, datacontenttype). Costs memory; helps foreign readers. Default false.
   */
  readonly storeAllAttributes?: boolean;
  /** Default durability of publishes to this topic. Default `{ mode: 'primary' }`. */
  readonly durability?: Durability;
  /**
   * Retention: keep about this many events per partition (approximate MAXLEN),
   * and/or events younger than `maxAgeMs` (MINID). By default retention never
   * removes events a consumer group has not read or still holds pending.
   */
  readonly retention?: {
    readonly maxLen?: number;
    readonly maxAgeMs?: number;
    readonly unsafe?: boolean;
  };
}

type DataOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;

/** A declared topic. Producers and consumers share the same declaration. */
export interface Topic<T = unknown> {
  readonly name: string;
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly partitions: number;
  readonly codec: TopicCodec;
  readonly envelopeLayout: EnvelopeLayout;
  readonly streamKey: string | undefined;
  readonly defaultType: string;
  readonly dedupeWindowMs: number;
  /** Optional so hand-built topics stay valid; publishing then uses DEFAULT_MAX_EVENT_BYTES. */
  readonly maxEventBytes?: number;
  readonly storeAllAttributes: boolean;
  readonly durability: Durability;
  readonly retention:
    { readonly maxLen?: number; readonly maxAgeMs?: number; readonly unsafe?: boolean } | undefined;
}

export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,200}$/;

export const DEFAULT_DEDUPE_WINDOW_MS = 10 * 60_000;
/**
 * The longest dedupe window a topic may have: 7 days. Deduplication is for retries of a
 * publish (minutes, or a rerun after an outage over a weekend); every id is held in Redis
 * for the whole window, so a longer one mostly costs memory. Longer-lived idempotency
 * belongs to the consumer (see patterns/idempotent).
 */
export const MAX_DEDUPE_WINDOW_MS = 7 * 24 * 3_600_000;
/** Default largest event: 1 MiB of stored entry. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
/** The largest `maxEventBytes` a topic may set: Redis's default proto-max-bulk-len (512 MiB). */
export const MAX_EVENT_BYTES_LIMIT = 512 * 1024 * 1024;

/**
 * The most partitions a topic may have. Tools read every partition of every topic (a scrape,
 * `herald topics`), so the registry refuses records above it: 50 topics of 1,024 partitions
 * made each scrape take 7-11 s.
 */
export const MAX_PARTITIONS = 256;

/**
 * Declares a topic. Throws ConfigError for options that cannot work.
 * With a schema, the data type is the schema's output; without one, name it:
 * `defineTopic<{ orderId: string }>({ name: 'orders' })`.
 */
export function defineTopic<S extends StandardSchemaV1>(
  options: TopicOptions<S> & { readonly schema: S },
): Topic<StandardSchemaV1.InferOutput<S>>;
export function defineTopic<T = unknown>(options: TopicOptions): Topic<T>;
export function defineTopic<S extends StandardSchemaV1 | undefined = undefined>(
  options: TopicOptions<S>,
): Topic<DataOf<S>> {
  const { name } = options;
  if (!TOPIC_NAME.test(name)) {
    throw new ConfigError(
      `topic name '${name}' is invalid: use 1-200 letters, digits, '.', '_' or '-'`,
    );
  }
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new ConfigError(
      `topic '${name}': partitions must be an integer from 1 to ${MAX_PARTITIONS}`,
    );
  }
  if (options.streamKey !== undefined && partitions !== 1) {
    throw new ConfigError(`topic '${name}': a topic bound to streamKey must have 1 partition`);
  }
  if (options.streamKey === '') throw new ConfigError(`topic '${name}': streamKey is empty`);
  const dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  if (!isWholeInRange(dedupeWindowMs, MAX_DEDUPE_WINDOW_MS)) {
    throw new ConfigError(
      `topic '${name}': dedupeWindowMs must be a whole number of ms from 1 to ${MAX_DEDUPE_WINDOW_MS} (7 days)`,
    );
  }
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  if (!isWholeInRange(maxEventBytes, MAX_EVENT_BYTES_LIMIT)) {
    throw new ConfigError(
      `topic '${name}': maxEventBytes must be a whole number from 1 to ${MAX_EVENT_BYTES_LIMIT} (512 MiB)`,
    );
  }
  const envelopeLayout = options.envelopeLayout ?? 'compact';
  if (envelopeLayout !== 'compact' && envelopeLayout !== 'fields') {
    throw new ConfigError(
      `topic '${name}': envelopeLayout must be 'compact' or 'fields', not '${String(envelopeLayout)}'`,
    );
  }
  return Object.freeze({
    name,
    schema: options.schema as StandardSchemaV1<unknown, DataOf<S>> | undefined,
    partitions,
    codec: options.codec ?? 'envelope',
    envelopeLayout,
    streamKey: options.streamKey,
    defaultType: options.defaultType ?? name,
    dedupeWindowMs,
    maxEventBytes,
    storeAllAttributes: options.storeAllAttributes ?? false,
    durability: options.durability ?? ({ mode: 'primary' } as const),
    retention: options.retention,
  });
}

function isWholeInRange(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= max;
}
