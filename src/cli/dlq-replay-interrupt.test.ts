import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pairs } from '../core/codec.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../test-support/redis.ts';
import { deadLetterAll, runHerald, spawnHerald } from './testing.ts';

void describe('herald dlq replay interrupted by Ctrl-C', () => {
  const COUNT = 2000;
  const prefix = uniquePrefix('cli-replay');
  const topic = defineTopic({ name: 'bulk' });
  let server: RedisServerHandle;
  let backend: RedisBackend;

  before(async () => {
    // A private server: the test pauses its clients (CLIENT PAUSE), which must not stall other suites.
    server = await startRedisServer();
    backend = await RedisBackend.connect({ url: server.url, prefix });
    const events = Array.from({ length: COUNT }, (_, i) => ({ data: { n: i }, id: `bulk-${i}` }));
    for (let i = 0; i < COUNT; i += 500)
      await backend.publishBatch(topic, events.slice(i, i + 500));
    await deadLetterAll(backend, topic, 'g', () => true, COUNT);
  });

  after(async () => {
    await backend?.close();
    await server?.stop();
  });

  /** Event ids put back on the stream by replays, and ids still dead-lettered. */
  async function census(): Promise<{ replayed: string[]; dead: string[] }> {
    const p = partitionKeys(prefix, topic, 0);
    const stream = await backend.conn.send<[string, string[]][]>(['XRANGE', p.stream, '-', '+']);
    const dlq = await backend.conn.send<[string, string[]][]>(['XRANGE', p.dlq, '-', '+']);
    return {
      replayed: stream
        .map(([, f]) => pairs(f))
        .filter((f) => f['herald-replay-for'] === 'g')
        .map((f) => f.id ?? ''),
      dead: dlq.map(([, f]) => pairs(f).id ?? ''),
    };
  }

  void test('no dead letter is duplicated or lost; running it again replays the rest', async () => {
    const g = ['--url', server.url, '--prefix', prefix];
    const replay = spawnHerald(['dlq', 'replay', 'bulk', ...g]);
    try {
      await replay.waitForOutput('stderr', (s) => /replayed \d+\/2000/.test(s));
      // Hold the replay's next script call in Redis, so Ctrl-C lands while a move is in flight.
      await backend.conn.send(['CLIENT', 'PAUSE', '30000', 'WRITE']);
      replay.child.kill('SIGINT');
      await replay.waitForOutput('stderr', (s) =>
        s.includes('interrupt: stopping after the current dead letter'),
      );
      await backend.conn.send(['CLIENT', 'UNPAUSE']);
      const r = await replay.exited;
      assert.equal(r.code, 130, r.stderr);
      const m =
        /^interrupted: replayed (\d+) of 2000 dead letter\(s\) of 'bulk'; the other (\d+) are still dead letters/.exec(
          r.stdout,
        );
      assert.ok(m, r.stdout);

      const { replayed, dead } = await census();
      assert.ok(replayed.length > 0 && replayed.length < COUNT, `replayed ${replayed.length}`);
      assert.equal(replayed.length, Number(m[1]));
      assert.equal(dead.length, Number(m[2]));
      assert.equal(replayed.length + dead.length, COUNT);
      const ids = new Set([...replayed, ...dead]);
      assert.equal(ids.size, COUNT, 'an event is both replayed and dead-lettered, or twice in one');
      assert.ok([...ids].every((id) => /^bulk-\d+$/.test(id)));
    } finally {
      await backend.conn.send(['CLIENT', 'UNPAUSE']).catch(() => {});
      replay.kill();
    }

    const rest = await runHerald(['dlq', 'replay', 'bulk', ...g]);
    assert.equal(rest.code, 0, rest.stderr);
    const after = await census();
    assert.equal(after.dead.length, 0);
    assert.equal(new Set(after.replayed).size, COUNT);
    assert.equal(after.replayed.length, COUNT);
  });
});
