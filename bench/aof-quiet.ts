/**
 * Keeps the private server's AOF rewrites out of the measured scenarios. Redis rewrites its
 * append-only file by itself once it has grown by 100 % and 64 MB; the benchmark writes several
 * hundred MB, so a rewrite (a fork, then the child writing the file) would otherwise land in
 * whichever scenario happens to run then, and stall it for a few milliseconds: a latency
 * scenario's p99 is made of such stalls. The runner turns the automatic rewrite off on its own
 * server and rewrites between two scenario processes instead, once the file has grown.
 * A Redis given with --url / REDIS_URL is left as it is.
 */
import { createClient } from 'redis';

/** Rewrite between scenarios once the AOF has grown by this much since the last rewrite (Redis's own minimum). */
const REWRITE_AFTER_BYTES = 64 * 1024 * 1024;
const POLL_MS = 50;
const REWRITE_TIMEOUT_MS = 60_000;

function newClient(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  return client;
}

type Client = ReturnType<typeof newClient>;

function infoField(text: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

export class AofQuiet {
  /** Rewrites this object started (between scenarios). */
  rewrites = 0;

  private constructor(
    private readonly client: Client,
    private readonly afterBytes: number,
  ) {}

  /** `afterBytes`: how much the AOF may grow before it is rewritten (tests set less). */
  static async open(url: string, afterBytes = REWRITE_AFTER_BYTES): Promise<AofQuiet> {
    const client = newClient(url);
    await client.connect();
    await client.sendCommand(['CONFIG', 'SET', 'auto-aof-rewrite-percentage', '0']);
    return new AofQuiet(client, afterBytes);
  }

  /**
   * Between two scenario processes: rewrites the AOF when it has grown, and waits for the
   * rewrite. True when it rewrote.
   */
  async between(): Promise<boolean> {
    const info = await this.persistence();
    const grown = infoField(info, 'aof_current_size') - infoField(info, 'aof_base_size');
    if (!(grown >= this.afterBytes)) return false;
    await this.client.sendCommand(['BGREWRITEAOF']);
    this.rewrites++;
    const deadline = performance.now() + REWRITE_TIMEOUT_MS;
    for (;;) {
      const now = await this.persistence();
      const busy =
        infoField(now, 'aof_rewrite_in_progress') === 1 ||
        infoField(now, 'aof_rewrite_scheduled') === 1;
      if (!busy) return true;
      if (performance.now() > deadline)
        throw new Error(`the AOF rewrite did not finish within ${REWRITE_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private persistence(): Promise<string> {
    return this.client.sendCommand<string>(['INFO', 'persistence']);
  }
}
