/**
 * Memory: a limit must be set and the eviction policy must be noeviction, so
 * Redis refuses writes (Herald's capacity error) instead of silently deleting
 * streams; and the memory in use must leave headroom below the limit.
 */
import { formatBytes } from '../output.ts';
import { result, type DoctorCheck, type DoctorContext } from './check.ts';

function limits(ctx: DoctorContext): { maxmemory: number; policy: string | undefined; used: number } {
  const maxmemory = Number(ctx.config?.maxmemory ?? ctx.info.maxmemory ?? 0);
  const policy = ctx.config?.['maxmemory-policy'] ?? ctx.info.maxmemory_policy;
  return { maxmemory, policy, used: Number(ctx.info.used_memory ?? 0) };
}

/** A limit to suggest: three quarters of the machine's memory, in whole megabytes. */
function suggestedLimit(ctx: DoctorContext): string {
  const total = Number(ctx.info.total_system_memory ?? 0);
  if (!(total > 0)) return '<size, e.g. 4gb>';
  return `${Math.max(64, Math.floor((total * 0.75) / 1024 / 1024))}mb`;
}

export const memoryPolicyCheck: DoctorCheck = {
  id: 'memory-policy',
  title: 'maxmemory and eviction policy',
  run(ctx) {
    const { maxmemory, policy } = limits(ctx);
    const out = [];
    if (!(maxmemory > 0)) {
      const size = suggestedLimit(ctx);
      out.push(
        result(this, 'FAIL', 'no maxmemory: Redis grows until the OS kills it, and Herald cannot refuse publishes in time', {
          commands: [`CONFIG SET maxmemory ${size}`, 'CONFIG REWRITE'],
          config: [`maxmemory ${size}`],
        }),
      );
    }
    if (policy === undefined) {
      out.push(result(this, 'WARN', 'cannot read maxmemory-policy (CONFIG GET is not allowed)'));
    } else if (policy !== 'noeviction') {
      out.push(
        result(this, 'FAIL', `maxmemory-policy is ${policy}: under memory pressure Redis silently deletes keys (streams, dedupe records)`, {
          commands: ['CONFIG SET maxmemory-policy noeviction', 'CONFIG REWRITE'],
          config: ['maxmemory-policy noeviction'],
        }),
      );
    }
    if (out.length === 0) {
      out.push(result(this, 'PASS', `maxmemory ${formatBytes(maxmemory)}, policy noeviction`));
    }
    return out;
  },
};

export const headroomCheck: DoctorCheck = {
  id: 'memory-headroom',
  title: 'memory headroom',
  run(ctx) {
    const { maxmemory, used } = limits(ctx);
    if (!(maxmemory > 0)) {
      return [
        result(this, 'WARN', `${formatBytes(used)} used, no limit set: headroom unknown (see maxmemory above)`),
      ];
    }
    const ratio = used / maxmemory;
    const figures = `${formatBytes(used)} of ${formatBytes(maxmemory)} used (${(ratio * 100).toFixed(1)}%)`;
    const fix = {
      advice:
        'let consumers catch up, trim topics (herald trim <topic>), purge dead letters, or raise the limit',
      commands: [`CONFIG SET maxmemory ${Math.ceil((used / ctx.options.warnRatio) * 1.25 / 1024 / 1024)}mb`],
    };
    if (ratio >= ctx.options.failRatio) {
      return [result(this, 'FAIL', `${figures}: at or above ${ctx.options.failRatio * 100}%, publishing is refused`, fix)];
    }
    if (ratio >= ctx.options.warnRatio) {
      return [result(this, 'WARN', `${figures}: above ${ctx.options.warnRatio * 100}%`, fix)];
    }
    return [result(this, 'PASS', figures)];
  },
};
