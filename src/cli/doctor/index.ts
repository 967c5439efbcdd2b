/** `herald doctor`'s checks, run in order against one Redis. */
import { errorMessage } from '../../core/error-text.ts';
import type { RedisConnection } from '../../redis/connection.ts';
import type { CheckResult, DoctorCheck, DoctorOptions } from './check.ts';
import { groupsCheck } from './groups.ts';
import { headroomCheck, memoryPolicyCheck } from './memory.ts';
import { persistenceCheck } from './persistence.ts';
import { readConfig, readInfo } from './redis-state.ts';
import { replicasCheck } from './replicas.ts';
import { versionCheck } from './version.ts';

export type { CheckResult, DoctorOptions, Verdict, Fix } from './check.ts';

/** Every check, in the order they are printed. */
export const checks: readonly DoctorCheck[] = [
  versionCheck,
  persistenceCheck,
  memoryPolicyCheck,
  replicasCheck,
  headroomCheck,
  groupsCheck,
];

export interface DoctorReport {
  readonly redisVersion: string | undefined;
  readonly results: readonly CheckResult[];
}

/** Runs every check; a check that throws becomes a FAIL naming the error, the others still run. */
export async function runDoctor(
  conn: RedisConnection,
  prefix: string,
  options: DoctorOptions,
): Promise<DoctorReport> {
  const [info, config] = await Promise.all([readInfo(conn), readConfig(conn)]);
  const ctx = { conn, prefix, info, config, options };
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      results.push(...(await check.run(ctx)));
    } catch (e) {
      results.push({
        id: check.id,
        title: check.title,
        verdict: 'FAIL',
        detail: `the check could not run: ${errorMessage(e)}`,
      });
    }
  }
  return { redisVersion: info.redis_version, results };
}
