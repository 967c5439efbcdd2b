/**
 * Events handed to HTTP consumers, waiting for their acknowledgement. The
 * gateway's subscription handler waits here; `POST …/ack` settles the wait:
 * an ack resolves it (the library acknowledges the event), a negative ack or
 * the timeout rejects it (the library retries, then dead-letters).
 */

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

export class AckRegistry {
  private readonly waiters = new Map<string, Waiter>();

  private static key(topic: string, group: string, token: string): string {
    return `${topic}\u0000${group}\u0000${token}`;
  }

  /** Waits for the event's ack; rejects on nack, timeout or abort. */
  wait(
    topic: string,
    group: string,
    token: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const key = AckRegistry.key(topic, group, token);
    return new Promise<void>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(key);
      };
      const onAbort = (): void => {
        finish();
        reject(new Error('the HTTP consumer disconnected before acknowledging'));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      signal.addEventListener('abort', onAbort);
      this.waiters.set(key, {
        resolve: () => {
          finish();
          resolve();
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      });
    });
  }

  /** Settles a waiting event; false when none waits here (another process, or already settled). */
  settle(topic: string, group: string, token: string, error?: Error): boolean {
    const w = this.waiters.get(AckRegistry.key(topic, group, token));
    if (!w) return false;
    if (error) w.reject(error);
    else w.resolve();
    return true;
  }
}
