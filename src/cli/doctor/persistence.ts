/** Persistence: AOF on, a sane fsync policy, and the last AOF write succeeded. */
import { result, type CheckResult, type DoctorCheck } from './check.ts';

export const persistenceCheck: DoctorCheck = {
  id: 'persistence',
  title: 'persistence (AOF, fsync)',
  run({ info, config }) {
    const aofOn =
      config?.appendonly !== undefined ? config.appendonly === 'yes' : info.aof_enabled === '1';
    if (!aofOn) {
      return [
        result(
          this,
          'FAIL',
          'AOF is off: a restart or crash loses every event since the last snapshot',
          {
            commands: ['CONFIG SET appendonly yes', 'CONFIG REWRITE'],
            config: ['appendonly yes', 'appendfsync everysec'],
          },
        ),
      ];
    }
    const out: CheckResult[] = [];
    if (info.aof_last_write_status === 'err' || info.aof_last_bgrewrite_status === 'err') {
      out.push(
        result(this, 'FAIL', 'the last AOF write or rewrite failed (disk full or not writable?)', {
          advice: 'free disk space or fix permissions in the data dir, then check the Redis log',
        }),
      );
    }
    const fsync = config?.appendfsync;
    if (fsync === undefined) {
      out.push(result(this, 'WARN', 'AOF is on; appendfsync unknown (CONFIG GET is not allowed)'));
    } else if (fsync === 'always') {
      out.push(
        result(this, 'PASS', 'AOF on, appendfsync always: an acknowledged event survives a crash'),
      );
    } else if (fsync === 'everysec') {
      out.push(
        result(this, 'PASS', 'AOF on, appendfsync everysec: a crash loses at most ~1 s of events'),
      );
    } else {
      out.push(
        result(
          this,
          'WARN',
          `AOF on, appendfsync ${fsync}: the OS decides when to flush, a crash can lose much more`,
          {
            commands: ['CONFIG SET appendfsync everysec', 'CONFIG REWRITE'],
            config: ['appendfsync everysec'],
          },
        ),
      );
    }
    return out;
  },
};
