/**
 * The logger operations code writes to: any pino logger (or anything with the
 * same `warn`/`info`/`error` methods). Without one, warnings go to stderr as
 * pino JSON lines, so a misconfigured Redis is never silent.
 */
import { pino, type Logger } from 'pino';

export type OpsLogger = Pick<Logger, 'warn' | 'info' | 'error'>;

let fallback: OpsLogger | undefined;

/** The logger given, else a shared pino logger on stderr named 'herald'. */
export function opsLogger(given?: OpsLogger): OpsLogger {
  if (given) return given;
  fallback ??= pino({ name: 'herald' }, pino.destination({ fd: 2, sync: true }));
  return fallback;
}
