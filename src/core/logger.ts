/**
 * The logger Herald writes to: any pino logger, or anything with pino's
 * `(object, message)` methods. Without one, Herald logs pino JSON lines to stderr
 * under the name 'herald' at the level in HERALD_LOG_LEVEL (default 'info'), so a
 * retry, a dead letter or a lost connection is never silent. Turn it down with
 * `logger: pino({ level: 'warn' })`, HERALD_LOG_LEVEL=warn, or off with `silentLogger`.
 *
 * Levels Herald uses: info (retry, reconnected), warn (dead-lettered, disconnected),
 * error (something Herald could not do and the caller cannot see).
 */
import { pino } from 'pino';

type LogFn = (obj: object, msg?: string) => void;

export interface HeraldLogger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

let fallback: HeraldLogger | undefined;

/** The logger given, else one shared pino logger on stderr named 'herald'. */
export function heraldLogger(given?: HeraldLogger): HeraldLogger {
  if (given) return given;
  fallback ??= pino(
    { name: 'herald', level: process.env.HERALD_LOG_LEVEL ?? 'info' },
    pino.destination({ fd: 2, sync: true }),
  );
  return fallback;
}

const noop: LogFn = () => {};

/** A logger that drops everything. */
export const silentLogger: HeraldLogger = { info: noop, warn: noop, error: noop };
