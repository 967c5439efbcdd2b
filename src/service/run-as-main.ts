/**
 * Running a service as a process's job: start it, say it is ready, and close it gracefully
 * on SIGTERM or SIGINT — subscriptions stop reading, running handlers get until the deadline,
 * what finished is acknowledged, connections close, and the process exits 0. A second signal
 * (more than a second after the first: Ctrl-C reaches a whole process group), or a close that
 * outlives the deadline by more than a grace period, exits at once with code 1
 * (whatever was not acknowledged stays pending and is delivered again elsewhere: nothing is lost).
 *
 *   runAsMain('payment', async () => {
 *     const herald = await connectHerald();
 *     herald.subscribe(payments, { group: 'payment' }, handle);
 *     return herald; // anything with close({ deadlineMs })
 *   });
 */
import type { CloseOptions } from '../core/contract.ts';
import { errorMessage } from '../core/error-text.ts';
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';

/** What `runAsMain` closes: a Herald backend, a subscription, or your own service object. */
export interface Closable {
  close(options?: CloseOptions): Promise<void>;
}

export interface RunAsMainOptions {
  /** Time handlers get to finish after a signal. Default 10 s (Kubernetes gives 30 s by default). */
  readonly deadlineMs?: number;
  /** Where the lifecycle lines go. Default: the library logger. */
  readonly logger?: HeraldLogger;
}

/** Default time running handlers get after SIGTERM/SIGINT. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 10_000;
/** Extra time for acknowledgements and connections to close after the handlers' deadline. */
const CLOSE_GRACE_MS = 5_000;
/**
 * A second signal this soon after the first is the same request (Ctrl-C reaches the whole
 * process group, and a supervisor may pass it on as SIGTERM too): only a later one forces.
 */
const REPEAT_WINDOW_MS = 1_000;

/** Starts `start()` and closes what it returns on SIGTERM/SIGINT; resolves with the running service. */
export async function runAsMain<S extends Closable>(
  name: string,
  start: () => Promise<S>,
  options: RunAsMainOptions = {},
): Promise<S> {
  const logger = heraldLogger(options.logger);
  const deadlineMs = options.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
  let service: S | undefined;
  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < REPEAT_WINDOW_MS) return;
      logger.warn({ service: name, signal }, `${name}: second ${signal}, exiting now`);
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ service: name, signal, deadlineMs }, `${name}: ${signal}, closing`);
    const force = setTimeout(() => {
      logger.error({ service: name }, `${name}: close did not finish in time, exiting`);
      process.exit(1);
    }, deadlineMs + CLOSE_GRACE_MS);
    force.unref();
    void (service?.close({ deadlineMs }) ?? Promise.resolve()).then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ service: name, err: errorMessage(e) }, `${name}: close failed`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    service = await start();
  } catch (e) {
    logger.error({ service: name, err: errorMessage(e) }, `${name}: could not start`);
    process.exit(1);
  }
  logger.info({ service: name }, `${name} ready`);
  return service;
}
