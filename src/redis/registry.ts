/**
 * The topic registry: one hash naming every topic a client has used, with its
 * declaration, so tools (CLI, exporter) can find topics without SCAN, and so a
 * producer and a consumer that disagree on a topic's partitions fail loudly.
 */
import { ConfigError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import { registryKey } from './keys.ts';
import { toMap } from './replies.ts';

export interface TopicRecord {
  readonly name: string;
  readonly partitions: number;
  readonly codec: Topic['codec'];
  readonly streamKey?: string | undefined;
  readonly createdAt: string;
}

export class TopicRegistry {
  private readonly known = new Map<string, Promise<void>>();
  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
  ) {}

  /** Records the topic once per process; rejects when it was declared differently before. */
  ensure(topic: Topic<unknown>): Promise<void> {
    let p = this.known.get(topic.name);
    if (!p) {
      p = this.register(topic);
      this.known.set(topic.name, p);
      p.catch(() => this.known.delete(topic.name));
    }
    return p;
  }

  private async register(topic: Topic<unknown>): Promise<void> {
    const record: TopicRecord = {
      name: topic.name,
      partitions: topic.partitions,
      codec: topic.codec,
      streamKey: topic.streamKey,
      createdAt: new Date().toISOString(),
    };
    const key = registryKey(this.prefix);
    const [, existing] = (await this.conn.pipeline([
      ['HSETNX', key, topic.name, JSON.stringify(record)],
      ['HGET', key, topic.name],
    ])) as [unknown, string | null];
    if (typeof existing !== 'string') return;
    const prev = JSON.parse(existing) as TopicRecord;
    if (prev.partitions !== topic.partitions || (prev.streamKey ?? undefined) !== topic.streamKey) {
      throw new ConfigError(
        `topic '${topic.name}' exists with ${prev.partitions} partition(s)` +
          `${prev.streamKey ? ` on stream '${prev.streamKey}'` : ''}; this declaration says ` +
          `${topic.partitions}${topic.streamKey ? ` on '${topic.streamKey}'` : ''}`,
      );
    }
  }

  async list(): Promise<TopicRecord[]> {
    const key = registryKey(this.prefix);
    return parseRegistry(await this.conn.send(['HGETALL', key], { key }));
  }
}

/** Parses the registry hash (a RESP3 map or a RESP2 flat list), sorted by name. */
export function parseRegistry(reply: unknown): TopicRecord[] {
  const out: TopicRecord[] = [];
  for (const value of Object.values(toMap(reply))) {
    try {
      out.push(JSON.parse(String(value)) as TopicRecord);
    } catch {
      // a foreign or damaged record: not ours to show
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The declaration a registry record describes (enough to compute the topic's keys). */
export function topicOfRecord(record: TopicRecord): Topic<unknown> {
  return defineTopic({
    name: record.name,
    partitions: record.partitions,
    codec: record.codec,
    ...(record.streamKey ? { streamKey: record.streamKey } : {}),
  });
}
