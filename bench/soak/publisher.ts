/**
 * A soak publisher (a child process): publishes batches of events with explicit ids
 * through the proxy and records each id once Herald acknowledged its publish. A batch
 * that fails is sent again with the same ids until acknowledged (the dedupe window
 * makes a retry of an event already stored a no-op), so every id it ever tried ends
 * up acknowledged and recorded: a delivery of an id never recorded is truly unexpected.
 * SIGTERM: finish the batch in hand, then exit.
 */
import { silentLogger, RedisBackend } from '../../src/index.ts';
import { childEnv, recordIds, SOAK_PREFIX, SOAK_TOPIC } from './shared.ts';

const BATCH = 10;
const PAUSE_MS = 50;
const RETRY_MS = 200;

const env = childEnv();
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const backend = await RedisBackend.connect({
  url: env.url,
  prefix: SOAK_PREFIX,
  logger: silentLogger,
});
let seq = 0;
while (!stopping) {
  const events = Array.from({ length: BATCH }, () => ({
    id: `${env.name}-${seq++}`,
    data: { n: seq },
  }));
  for (;;) {
    try {
      await backend.publishBatch(SOAK_TOPIC, events);
      recordIds(
        env.idsFile,
        events.map((e) => e.id),
      );
      break;
    } catch {
      await sleep(RETRY_MS); // Redis restarting, connection cut or blackholed: same ids again
    }
  }
  await sleep(PAUSE_MS);
}
await backend.close().catch(() => {});
process.exit(0);
