/**
 * The topic registry: one hash naming every topic with its declaration, so tools (CLI,
 * exporter) can find topics without SCAN, and so a producer and a consumer that disagree
 * on a topic's partitions fail loudly.
 *
 * A shared trust boundary: tools and every service read it, so
 * - services need only read it: an administrator declares topics (`herald topics create`,
 *   `declareTopic`); a service whose user may write the registry declares its topics at
 *   first use, one whose user may not gets a TopicNotDeclaredError;
 * - a malformed record (not JSON, a field that does not match its name, too many
 *   partitions, an unknown codec) is reported and skipped, never thrown at the tools;
 * - partitions are bounded (MAX_PARTITIONS), so no record can make a scrape read
 *   thousands of streams;
 * - a topic bound to a foreign stream key is marked by that key; `herald trim` refuses it
 *   unless told `--foreign-stream`.
 */
import { errorMessage } from '../core/error-text.ts';
import { ConfigError, PermissionError } from '../core/errors.ts';
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';
import { defineTopic, MAX_PARTITIONS, type Topic } from '../core/topic.ts';
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

/** A registry entry that was skipped, and why. */
export interface RegistryProblem {
  /** The hash field (the topic name it claims). */
  readonly field: string;
  readonly reason: string;
}

const CODECS: readonly string[] = ['envelope', 'raw'] satisfies readonly Topic['codec'][];

/** The topic's record, or why `raw` (the value of hash field `field`) is not a valid one. */
export function validateRecord(
  field: string,
  raw: unknown,
): { record: TopicRecord } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(String(raw));
  } catch {
    return { reason: 'not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { reason: 'not a JSON object' };
  }
  const r = value as Record<string, unknown>;
  if (r.name !== field) return { reason: `names topic '${String(r.name)}', not '${field}'` };
  const partitions = r.partitions;
  if (
    typeof partitions !== 'number' ||
    !Number.isInteger(partitions) ||
    partitions < 1 ||
    partitions > MAX_PARTITIONS
  ) {
    return { reason: `partitions must be an integer from 1 to ${MAX_PARTITIONS}` };
  }
  if (typeof r.codec !== 'string' || !CODECS.includes(r.codec)) {
    return { reason: `unknown codec '${String(r.codec)}'` };
  }
  if (r.streamKey !== undefined && r.streamKey !== null && typeof r.streamKey !== 'string') {
    return { reason: 'streamKey is not a string' };
  }
  const record: TopicRecord = {
    name: field,
    partitions,
    codec: r.codec as Topic['codec'],
    streamKey: typeof r.streamKey === 'string' ? r.streamKey : undefined,
    createdAt: typeof r.createdAt === 'string' ? r.createdAt : '',
  };
  try {
    topicOfRecord(record); // the name and stream-key rules of defineTopic
  } catch (e) {
    return { reason: errorMessage(e) };
  }
  return { record };
}

/** Problems already reported by this process (a scrape every few seconds must not flood the log). */
const reported = new Set<string>();

/** Problems the caller has shown itself (a CLI's own warning): not logged again. */
export function markRegistryProblemsReported(problems: readonly RegistryProblem[]): void {
  for (const p of problems) reported.add(`${p.field}\u0000${p.reason}`);
}

/** Logs each distinct problem once per process. */
export function reportRegistryProblem(problem: RegistryProblem, logger?: HeraldLogger): void {
  const id = `${problem.field}\u0000${problem.reason}`;
  if (reported.has(id)) return;
  reported.add(id);
  heraldLogger(logger).warn(
    { topic: problem.field, reason: problem.reason },
    `topic registry: record '${problem.field}' skipped (${problem.reason}); ` +
      `an administrator can rewrite it with herald topics create ${problem.field} --replace`,
  );
}

/**
 * Parses the registry hash (a RESP3 map or a RESP2 flat list), sorted by name. Malformed
 * records are skipped and passed to `onProblem` (default: logged once per process).
 */
export function parseRegistry(
  reply: unknown,
  onProblem: (p: RegistryProblem) => void = (p) => reportRegistryProblem(p),
): TopicRecord[] {
  const out: TopicRecord[] = [];
  for (const [field, value] of Object.entries(toMap(reply))) {
    const checked = validateRecord(field, value);
    if ('record' in checked) out.push(checked.record);
    else onProblem({ field, reason: checked.reason });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The registry's records and the entries it skipped. */
export async function readRegistry(
  conn: RedisConnection,
  prefix: string,
): Promise<{ records: TopicRecord[]; problems: RegistryProblem[] }> {
  const key = registryKey(prefix);
  const problems: RegistryProblem[] = [];
  const records = parseRegistry(await conn.send(['HGETALL', key], { key }), (p) =>
    problems.push(p),
  );
  return { records, problems };
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

/** The topic is not in the registry and this user may not declare it. */
export class TopicNotDeclaredError extends ConfigError {
  readonly topic: string;
  constructor(topic: Topic<unknown>, options?: { cause?: unknown }) {
    super(
      `topic '${topic.name}' is not declared in the topic registry and this user may only read ` +
        `the registry: an administrator declares it with herald topics create ${topic.name}` +
        `${topic.partitions > 1 ? ` --partitions ${topic.partitions}` : ''}` +
        `${topic.streamKey !== undefined ? ` --stream-key ${topic.streamKey}` : ''}`,
      options,
    );
    this.topic = topic.name;
  }
}

function recordOf(topic: Topic<unknown>): TopicRecord {
  return {
    name: topic.name,
    partitions: topic.partitions,
    codec: topic.codec,
    streamKey: topic.streamKey,
    createdAt: new Date().toISOString(),
  };
}

function describe(partitions: number, streamKey: string | undefined): string {
  return `${partitions} partition(s)${streamKey !== undefined ? ` on stream '${streamKey}'` : ''}`;
}

/** Rejects when the registry's record says otherwise than the declaration. */
function checkAgainst(topic: Topic<unknown>, raw: unknown): void {
  const checked = validateRecord(topic.name, raw);
  if ('reason' in checked) {
    throw new ConfigError(
      `topic '${topic.name}': its registry record is malformed (${checked.reason}); an ` +
        `administrator rewrites it with herald topics create ${topic.name} --replace`,
    );
  }
  const prev = checked.record;
  if (prev.partitions !== topic.partitions || (prev.streamKey ?? undefined) !== topic.streamKey) {
    throw new ConfigError(
      `topic '${topic.name}' exists with ${describe(prev.partitions, prev.streamKey)}; ` +
        `this declaration says ${describe(topic.partitions, topic.streamKey)}`,
    );
  }
}

export class TopicRegistry {
  private readonly known = new Map<string, Promise<void>>();
  /** Topics whose check succeeded: a publish to them need not wait for a settled promise. */
  private readonly checked = new Set<string>();
  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
  ) {}

  /**
   * Checks the topic against the registry once per process; declares it when absent and
   * this user may write the registry. Rejects when it was declared differently, and with a
   * TopicNotDeclaredError when it is absent and the user may only read the registry.
   */
  ensure(topic: Topic<unknown>): Promise<void> {
    let p = this.known.get(topic.name);
    if (!p) {
      p = this.check(topic);
      this.known.set(topic.name, p);
      p.then(
        () => this.checked.add(topic.name),
        () => this.known.delete(topic.name),
      );
    }
    return p;
  }

  /** True once `ensure` succeeded for this topic's name (the hot path then skips the await). */
  isChecked(topic: Topic<unknown>): boolean {
    return this.checked.has(topic.name);
  }

  private async check(topic: Topic<unknown>): Promise<void> {
    const key = registryKey(this.prefix);
    const existing = await this.conn.send<unknown>(['HGET', key, topic.name], { key });
    if (typeof existing === 'string') return checkAgainst(topic, existing);
    try {
      await declareTopic(this.conn, this.prefix, topic);
    } catch (e) {
      if (e instanceof PermissionError) throw new TopicNotDeclaredError(topic, { cause: e });
      throw e;
    }
  }

  async list(): Promise<TopicRecord[]> {
    return (await readRegistry(this.conn, this.prefix)).records;
  }
}

/**
 * Declares a topic in the registry (an administrator's `herald topics create`, or a
 * service's first use). `created` when written, `exists` when an identical declaration was
 * there; a different one is a ConfigError unless `replace` (an administrator overwriting a
 * squatted or malformed record).
 */
export async function declareTopic(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  options: { readonly replace?: boolean } = {},
): Promise<'created' | 'exists' | 'replaced'> {
  const key = registryKey(prefix);
  const record = JSON.stringify(recordOf(topic));
  if (options.replace === true) {
    const existing = await conn.send<unknown>(['HGET', key, topic.name], { key });
    if (typeof existing === 'string') {
      try {
        checkAgainst(topic, existing);
        return 'exists';
      } catch {
        await conn.send(['HSET', key, topic.name, record], { key });
        return 'replaced';
      }
    }
  }
  const [written, existing] = (await conn.pipeline(
    [
      ['HSETNX', key, topic.name, record],
      ['HGET', key, topic.name],
    ],
    { key },
  )) as [unknown, unknown];
  if (written instanceof Error) throw written;
  if (written === 1) return 'created';
  checkAgainst(topic, existing);
  return 'exists';
}
