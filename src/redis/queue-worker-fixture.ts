/**
 * Child-process fixture for queue.test.ts: a worker that takes ONE item, prints
 * `TOOK <id>` and then hangs in its handler until the test SIGKILLs it.
 *
 *   node --import tsx src/redis/queue-worker-fixture.ts <redis-url> <prefix> <queue> [visibilityTimeoutMs]
 */
import { connect } from './connection.ts';
import { RedisQueueFactory } from './queue.ts';

const [url, prefix, name, visibility = '500'] = process.argv.slice(2);
if (url === undefined || prefix === undefined || name === undefined) {
  process.stderr.write(
    'usage: queue-worker-fixture.ts <redis-url> <prefix> <queue> [visibilityTimeoutMs]\n',
  );
  process.exit(2);
}

const conn = await connect({ url });
const queue = new RedisQueueFactory(conn, prefix).queue(name);
const worker = queue.work(
  (job) => {
    process.stdout.write(`TOOK ${job.id}\n`);
    return new Promise<void>(() => {}); // never finishes: the test kills this process
  },
  { concurrency: 1, visibilityTimeoutMs: Number(visibility), blockMs: 200 },
);
await worker.ready;
process.stdout.write('READY\n');
