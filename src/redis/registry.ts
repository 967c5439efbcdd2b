/**
 * The topic registry: one hash naming every topic a client has used, with its
 * declaration, so tools (CLI, exporter) can find topics without SCAN, and so a
 * producer and a consumer that disagree on a topic's partitions fail loudly.
 */
import { ConfigError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import { registryKey } from './keys.ts';

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
    // RESP3 answers HGETALL with a map (an object); RESP2 with a flat list.
    const reply = await this.conn.send<Record<string, string> | string[]>([
      'HGETALL',
      registryKey(this.prefix),
    ]);
    const values = Array.isArray(reply)
      ? reply.filter((_, i) => i % 2 === 1)
      : Object.values(reply);
    const out = values.map((v) => JSON.parse(v) as TopicRecord);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
