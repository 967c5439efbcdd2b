/**
 * The key layout. Every key of one partition shares one hash tag, so a Lua
 * script that touches a partition's stream, dead letters and dedupe records
 * stays in one Redis Cluster slot:
 *
 *   herald:{orders:0}:stream           the partition's events
 *   herald:{orders:0}:dlq              its dead letters (all groups; each entry names its group)
 *   herald:{orders:0}:dedupe:<id>      "event <id> was stored at <position>", expires after the window
 *   herald:{orders:0}:owner:<group>    ordered groups: "<epoch>|<consumer>" owns the partition (PX lease)
 *   herald:{orders:0}:epoch:<group>    ordered groups: the partition's fencing epoch (INCR per take-over)
 *   herald:{orders}:members:<group>    ordered groups: live instances (ZSET consumer -> lease end, ms)
 *   herald:topics                      registry hash: topic name -> declaration (JSON), for tools
 *
 * A topic bound to a foreign stream key K keeps K and derives its other keys
 * from K's slot: K's own hash tag if it has one, else K itself as the tag.
 */
import type { Topic } from '../core/topic.ts';

export const DEFAULT_PREFIX = 'herald';

export interface PartitionKeys {
  readonly topic: string;
  readonly partition: number;
  readonly stream: string;
  readonly dlq: string;
  /** Prefix of dedupe keys; the event id is appended. */
  readonly dedupePrefix: string;
  /** Prefix of an ordered group's ownership key; the group name is appended. */
  readonly ownerPrefix: string;
  /** Prefix of an ordered group's fencing-epoch key; the group name is appended. */
  readonly epochPrefix: string;
}

/** The hash tag Redis Cluster would use for `key`, or undefined when it has none. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

export function partitionKeys(
  prefix: string,
  topic: Topic<unknown>,
  partition: number,
): PartitionKeys {
  if (topic.streamKey !== undefined) {
    const k = topic.streamKey;
    const tag = hashTagOf(k);
    const base =
      tag === undefined ? `${prefix}:{${k}}` : `${prefix}:{${tag}}:${k.replace(/[{}]/g, '_')}`;
    return {
      topic: topic.name,
      partition,
      stream: k,
      dlq: `${base}:dlq`,
      dedupePrefix: `${base}:dedupe:`,
      ownerPrefix: `${base}:owner:`,
      epochPrefix: `${base}:epoch:`,
    };
  }
  const base = `${prefix}:{${topic.name}:${partition}}`;
  return {
    topic: topic.name,
    partition,
    stream: `${base}:stream`,
    dlq: `${base}:dlq`,
    dedupePrefix: `${base}:dedupe:`,
    ownerPrefix: `${base}:owner:`,
    epochPrefix: `${base}:epoch:`,
  };
}

export function allPartitionKeys(prefix: string, topic: Topic<unknown>): PartitionKeys[] {
  return Array.from({ length: topic.partitions }, (_, p) => partitionKeys(prefix, topic, p));
}

/** The live instances of an ordered group (one key per topic and group, in the topic's own slot). */
export function membersKey(prefix: string, topic: Topic<unknown>, group: string): string {
  return `${prefix}:{${topic.name}}:members:${group}`;
}

export function registryKey(prefix: string): string {
  return `${prefix}:topics`;
}
