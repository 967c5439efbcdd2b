/**
 * The logger operations code writes to: the library's logger (see core/logger.ts).
 * Without one, warnings go to stderr as pino JSON lines, so a misconfigured Redis is never silent.
 */
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';

export type OpsLogger = HeraldLogger;

/** The logger given, else the library's shared logger on stderr. */
export function opsLogger(given?: OpsLogger): OpsLogger {
  return heraldLogger(given);
}
