/** Listing, replaying and purging a topic's dead letters. */
import { derivedId, pairs } from '../core/codec.ts';
import type { DeadLetter, DeadLetterFilter, DeadLetters } from '../core/contract.ts';
import { matchesDeadLetter, toDeadLetter } from '../core/dead-letter-fields.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import { allPartitionKeys } from './keys.ts';
import { loadScript, runScript } from './scripts.ts';

const replayScript = loadScript('dlq-replay');
const PAGE = 500;

export class RedisDeadLetters implements DeadLetters {
  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
  ) {}

  /** Walks every partition's dead-letter stream page by page, oldest first. */
  private async *scan(
    topic: Topic<unknown>,
    filter?: DeadLetterFilter,
  ): AsyncGenerator<DeadLetter> {
    for (const p of allPartitionKeys(this.prefix, topic)) {
      let start = '-';
      for (;;) {
        const page = await this.conn.send<[string, string[]][]>(
          ['XRANGE', p.dlq, start, '+', 'COUNT', String(PAGE)],
          { key: p.dlq },
        );
        for (const [pos, flat] of page) {
          const d = toDeadLetter(topic.name, p.partition, pos, pairs(flat));
          if (matchesDeadLetter(d, filter)) yield d;
        }
        if (page.length < PAGE) break;
        start = `(${(page[page.length - 1] as [string, string[]])[0]}`;
      }
    }
  }

  async list<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    const limit = filter?.limit ?? Infinity;
    for await (const d of this.scan(topic, filter)) {
      if (out.length >= limit) break;
      out.push(d);
    }
    return out;
  }

  async replay<T>(
    topic: Topic<T>,
    filter?: DeadLetterFilter & { readonly onProgress?: (done: number, total: number) => void },
  ): Promise<number> {
    const targets = await this.list(topic, filter);
    let done = 0;
    for (const d of targets) {
      const p = allPartitionKeys(this.prefix, topic)[d.partition];
      if (!p) continue;
      const id =
        topic.codec === 'raw' ? '' : derivedId(topic.name, d.partition, d.originalPosition);
      // One script call per dead letter: XADD to the partition and XDEL from the dead letters, atomically.
      const pos = await runScript<string | null>(
        this.conn,
        replayScript,
        [p.dlq, p.stream],
        [d.position, id],
      );
      if (pos) done++;
      filter?.onProgress?.(done, targets.length);
    }
    return done;
  }

  async purge<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<number> {
    const targets = await this.list(topic, filter);
    let removed = 0;
    const parts = allPartitionKeys(this.prefix, topic);
    for (let i = 0; i < targets.length; i += PAGE) {
      const slice = targets.slice(i, i + PAGE);
      const byPart = new Map<number, string[]>();
      for (const d of slice)
        byPart.set(d.partition, [...(byPart.get(d.partition) ?? []), d.position]);
      for (const [partition, ids] of byPart) {
        const key = (parts[partition] as { dlq: string }).dlq;
        removed += await this.conn.send<number>(['XDEL', key, ...ids], { key });
      }
    }
    return removed;
  }
}
