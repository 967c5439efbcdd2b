/**
 * Replicas: Herald must talk to the primary; a primary without replicas is one
 * disk away from losing data (a warning, so a single development node passes);
 * with replicas, min-replicas-to-write should stop writes nobody copies.
 */
import { result, type DoctorCheck } from './check.ts';

export const replicasCheck: DoctorCheck = {
  id: 'replicas',
  title: 'replicas and min-replicas-to-write',
  run({ info, config }) {
    const role = info.role;
    if (role === 'slave' || role === 'replica') {
      const primary = `${info.master_host ?? '?'}:${info.master_port ?? '?'}`;
      return [
        result(
          this,
          'FAIL',
          `this node is a replica of ${primary}: publishing and acknowledging fail with READONLY`,
          {
            advice: `point Herald at the primary (${primary}), e.g. --url redis://${primary}`,
          },
        ),
      ];
    }
    const connected = Number(info.connected_slaves ?? 0);
    if (connected === 0) {
      return [
        result(this, 'WARN', 'no replicas: losing this node or its disk loses the events', {
          advice:
            'run a replica on another host (in its redis.conf: replicaof <this-host> <port>), ' +
            'then here: CONFIG SET min-replicas-to-write 1',
        }),
      ];
    }
    const offline = Array.from({ length: connected }, (_, i) => info[`slave${i}`] ?? '').filter(
      (s) => s !== '' && !s.includes('state=online'),
    );
    const minToWrite = Number(
      config?.['min-replicas-to-write'] ?? info.min_slaves_good_slaves ?? 0,
    );
    const out = [];
    if (offline.length > 0) {
      out.push(
        result(
          this,
          'WARN',
          `${offline.length} of ${connected} replica(s) not online (${offline.join('; ')})`,
        ),
      );
    }
    if (!(minToWrite > 0)) {
      out.push(
        result(
          this,
          'WARN',
          `${connected} replica(s), but min-replicas-to-write is 0: writes continue when no replica copies them`,
          {
            commands: [
              'CONFIG SET min-replicas-to-write 1',
              'CONFIG SET min-replicas-max-lag 10',
              'CONFIG REWRITE',
            ],
            config: ['min-replicas-to-write 1', 'min-replicas-max-lag 10'],
          },
        ),
      );
    }
    if (out.length === 0) {
      out.push(
        result(this, 'PASS', `${connected} replica(s) online, min-replicas-to-write ${minToWrite}`),
      );
    }
    return out;
  },
};
