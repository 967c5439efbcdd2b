/** Redis version: Herald needs 6.2 (XAUTOCLAIM) and reports lag from 7.0 on. */
import { result, type DoctorCheck } from './check.ts';

/** "7.0.15" -> [7, 0, 15]. */
export function parseVersion(v: string): [number, number, number] {
  const [a = 0, b = 0, c = 0] = v.split('.').map((x) => Number.parseInt(x, 10) || 0);
  return [a, b, c];
}

export const versionCheck: DoctorCheck = {
  id: 'version',
  title: 'Redis version',
  run({ info }) {
    const v = info.redis_version;
    if (v === undefined) {
      return [result(this, 'WARN', 'INFO does not report redis_version; cannot tell the version')];
    }
    const [major, minor] = parseVersion(v);
    const upgrade = { advice: 'upgrade to Redis 7.0 or later' };
    if (major < 6 || (major === 6 && minor < 2)) {
      return [result(this, 'FAIL', `Redis ${v}: Herald needs 6.2+ (XAUTOCLAIM)`, upgrade)];
    }
    if (major < 7) {
      return [
        result(this, 'WARN', `Redis ${v}: consumer-group lag is only reported from 7.0`, upgrade),
      ];
    }
    return [result(this, 'PASS', `Redis ${v}`)];
  },
};
