/**
 * Memory: a limit must be set and the eviction policy must be noeviction, so
 * Redis refuses writes (Herald's capacity error) instead of silently deleting
 * streams; and the memory in use must leave headroom below the limit. The
 * verdicts come from the capacity guard's own rules (src/ops/capacity.ts), so
 * doctor and the guard agree.
 */
import {
  capacityVerdict,
  checkMemoryPolicy,
  type MemoryPolicyProblem,
} from '../../ops/capacity.ts';
import { formatBytes } from '../output.ts';
import {
  result,
  type CheckResult,
  type DoctorCheck,
  type DoctorContext,
  type Fix,
} from './check.ts';

/** INFO's memory figures, with CONFIG's values where INFO lacks them (older Redis). */
function memoryInfo(ctx: DoctorContext): Record<string, string> {
  return {
    used_memory: ctx.info.used_memory ?? '0',
    maxmemory: ctx.info.maxmemory ?? ctx.config?.maxmemory ?? '0',
    maxmemory_policy: ctx.info.maxmemory_policy ?? ctx.config?.['maxmemory-policy'] ?? 'unknown',
  };
}

/** A limit to suggest: three quarters of the machine's memory, in whole megabytes. */
function suggestedLimit(ctx: DoctorContext): string {
  const total = Number(ctx.info.total_system_memory ?? 0);
  if (!(total > 0)) return '<size, e.g. 4gb>';
  return `${Math.max(64, Math.floor((total * 0.75) / 1024 / 1024))}mb`;
}

function fixFor(problem: MemoryPolicyProblem, ctx: DoctorContext): Fix {
  if (problem.code === 'no-maxmemory') {
    const size = suggestedLimit(ctx);
    return {
      commands: [`CONFIG SET maxmemory ${size}`, 'CONFIG REWRITE'],
      config: [`maxmemory ${size}`],
    };
  }
  return {
    commands: ['CONFIG SET maxmemory-policy noeviction', 'CONFIG REWRITE'],
    config: ['maxmemory-policy noeviction'],
  };
}

export const memoryPolicyCheck: DoctorCheck = {
  id: 'memory-policy',
  title: 'maxmemory and eviction policy',
  run(ctx) {
    const info = memoryInfo(ctx);
    const { problems } = checkMemoryPolicy(info);
    const out: CheckResult[] = problems.map((p) => result(this, 'FAIL', p.message, fixFor(p, ctx)));
    if (info.maxmemory_policy === 'unknown') {
      out.push(
        result(
          this,
          'WARN',
          'cannot read maxmemory-policy (neither INFO nor CONFIG GET report it)',
        ),
      );
    }
    if (out.length === 0) {
      const max = formatBytes(Number(info.maxmemory));
      out.push(result(this, 'PASS', `maxmemory ${max}, policy ${info.maxmemory_policy}`));
    }
    return out;
  },
};

export const headroomCheck: DoctorCheck = {
  id: 'memory-headroom',
  title: 'memory headroom',
  run(ctx) {
    const v = capacityVerdict(memoryInfo(ctx), ctx.options.failRatio);
    if (v.ratio === undefined) {
      return [
        result(
          this,
          'WARN',
          `${formatBytes(v.usedBytes)} used, no limit set: headroom unknown (see maxmemory above)`,
        ),
      ];
    }
    const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
    const figures = `${formatBytes(v.usedBytes)} of ${formatBytes(v.limitBytes)} used (${(v.ratio * 100).toFixed(1)}%)`;
    const raiseTo = Math.ceil(((v.usedBytes / ctx.options.warnRatio) * 1.25) / 1024 / 1024);
    const fix = {
      advice:
        'let consumers catch up, trim topics (herald trim <topic>), purge dead letters, or raise the limit',
      commands: [`CONFIG SET maxmemory ${raiseTo}mb`, 'CONFIG REWRITE'],
      config: [`maxmemory ${raiseTo}mb`],
    };
    if (!v.ok) {
      return [
        result(
          this,
          'FAIL',
          `${figures}: at or above ${pct(v.threshold)}, publishes are refused`,
          fix,
        ),
      ];
    }
    if (v.ratio >= ctx.options.warnRatio) {
      return [result(this, 'WARN', `${figures}: above ${pct(ctx.options.warnRatio)}`, fix)];
    }
    return [result(this, 'PASS', figures)];
  },
};
