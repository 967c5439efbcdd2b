/**
 * The shape of a doctor check. Each check is a small module that reads what it
 * needs from the context (INFO and CONFIG are fetched once for all) and returns
 * one or more results, each with a verdict and, when it is not PASS, the exact fix.
 */
import type { RedisConnection } from '../../redis/connection.ts';

export type Verdict = 'PASS' | 'WARN' | 'FAIL';

/** How to fix a finding: commands to run now, and the redis.conf lines that keep it after a restart. */
export interface Fix {
  /** Commands to run with redis-cli, e.g. `CONFIG SET maxmemory-policy noeviction`. */
  readonly commands?: readonly string[];
  /** Lines for redis.conf, e.g. `maxmemory-policy noeviction`. */
  readonly config?: readonly string[];
  /** Anything that is not a command: what to do, in one sentence. */
  readonly advice?: string;
}

export interface CheckResult {
  /** Stable id for scripts, e.g. `persistence`. */
  readonly id: string;
  readonly title: string;
  readonly verdict: Verdict;
  /** What was found, in one line. */
  readonly detail: string;
  readonly fix?: Fix;
}

export interface DoctorOptions {
  /** Time between the two lag samples. */
  readonly sampleMs: number;
  /** A pending event idle longer than this is stuck. */
  readonly stuckAfterMs: number;
  /** Used/max memory ratio above which headroom is a warning. */
  readonly warnRatio: number;
  /** Used/max memory ratio above which headroom fails (publishing is refused there). */
  readonly failRatio: number;
}

export interface DoctorContext {
  readonly conn: RedisConnection;
  readonly prefix: string;
  /** Every field of INFO (server, memory, persistence, replication, …). */
  readonly info: Readonly<Record<string, string>>;
  /** CONFIG GET values; undefined when CONFIG is disabled (managed Redis) or the parameter is unknown. */
  readonly config: Readonly<Record<string, string>> | undefined;
  readonly options: DoctorOptions;
}

export interface DoctorCheck {
  readonly id: string;
  readonly title: string;
  run(ctx: DoctorContext): Promise<CheckResult[]> | CheckResult[];
}

/** Builds a result for a check. */
export function result(
  check: Pick<DoctorCheck, 'id' | 'title'>,
  verdict: Verdict,
  detail: string,
  fix?: Fix,
): CheckResult {
  return { id: check.id, title: check.title, verdict, detail, ...(fix ? { fix } : {}) };
}
