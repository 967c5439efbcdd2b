import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { parseJsonLines, runHerald, spawnHerald, type CliProcess } from './testing.ts';

/** The value of one sample line, e.g. `herald_group_pending{topic="a",partition="0",group="g"} 2`. */
function sample(text: string, name: string, labels: string): number | undefined {
  const head = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

void describe('herald exporter, run as a user runs it', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-exporter');
  const orders = defineTopic({ name: 'orders' });
  const stream = partitionKeys(prefix, orders, 0).stream;
  let backend: RedisBackend;
  let exporter: CliProcess | undefined;

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    await backend.publishBatch(
      orders,
      Array.from({ length: 7 }, (_, i) => ({ data: { i } })),
    );
    // 'billing' read 3 events and acknowledged none: pending 3, lag 4.
    await backend.conn.send(['XGROUP', 'CREATE', stream, 'billing', '0']);
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      'billing',
      'w1',
      'COUNT',
      '3',
      'STREAMS',
      stream,
      '>',
    ]);
  });

  after(async () => {
    exporter?.kill();
    await backend.close();
  });

  void test('serves /metrics whose figures match Redis, and stops cleanly on Ctrl-C', async () => {
    exporter = spawnHerald(['exporter', '--port', '0', '--url', url, '--prefix', prefix, '--json']);
    await exporter.waitForOutput('stdout', (s) => s.includes('\n'));
    const [address] = parseJsonLines<{ metricsUrl: string; url: string; port: number }>(
      exporter.stdout(),
    );
    assert.ok(address && address.port > 0, exporter.stdout());

    const res = await fetch(address.metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const info = await backend.conn.send<{ name: string; lag: number; pending: number }[]>([
      'XINFO',
      'GROUPS',
      stream,
    ]);
    const billing = info.find((g) => g.name === 'billing');
    const labels = `topic="orders",partition="0"`;
    assert.equal(sample(text, 'herald_redis_up', ''), 1);
    assert.equal(sample(text, 'herald_stream_length', labels), 7);
    assert.equal(sample(text, 'herald_group_lag', `${labels},group="billing"`), billing?.lag);
    assert.equal(
      sample(text, 'herald_group_pending', `${labels},group="billing"`),
      billing?.pending,
    );
    assert.deepEqual([billing?.lag, billing?.pending], [4, 3]);

    const health = await fetch(`${address.url}/healthz`);
    assert.equal(health.status, 200);

    exporter.child.kill('SIGINT');
    const r = await exporter.exited;
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(fetch(address.metricsUrl), 'the port is closed after Ctrl-C');
  });

  void test('a port in use is one clear error line', async () => {
    const first = spawnHerald([
      'exporter',
      '--port',
      '0',
      '--url',
      url,
      '--prefix',
      prefix,
      '--json',
    ]);
    try {
      await first.waitForOutput('stdout', (s) => s.includes('\n'));
      const [address] = parseJsonLines<{ port: number }>(first.stdout());
      const port = String(address?.port);
      const r = await runHerald(['exporter', '--port', port, '--url', url, '--prefix', prefix]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `herald: port ${port} is already in use: choose another with --port N (0 = any free port)\n`,
      );
    } finally {
      first.kill();
    }
  });
});
