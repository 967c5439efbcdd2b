/**
 * Herald's scripts as a functions library, on Redis servers of this test's own (it loads
 * and deletes libraries, which would disturb other tests on the suite's server):
 * loaded when missing by a user who may, a typed error naming `herald setup` for one who
 * may not, two versions side by side during a rolling upgrade, and EVAL on a Redis
 * without functions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { runHerald } from '../cli/testing.ts';
import {
  startRedisServer,
  uniquePrefix,
  type RedisServerHandle,
  urlWithUser,
} from '../test-support/redis.ts';
import { commandAt, startCluster, type RedisClusterSetup } from '../test-support/topology.ts';
import { aclSetUserArgs } from './acl-rules.ts';
import { RedisBackend } from './backend.ts';
import { buildLibrary, HELPERS_FILE, heraldLibrary, SCRIPT_FOLDERS } from './functions.ts';
import { partitionKeys } from './keys.ts';
import { declareTopic } from './registry.ts';
import { ScriptsNotInstalledError } from './scripts.ts';

const PASSWORD = 'functions-test-password';

/** Herald libraries loaded on the server, by name. */
async function libraries(backend: RedisBackend): Promise<string[]> {
  const reply = await backend.conn.send<unknown[]>(['FUNCTION', 'LIST', 'LIBRARYNAME', 'herald_*']);
  return reply
    .map((l) => {
      const entry = Array.isArray(l) ? (l as unknown[]) : Object.entries(l as object).flat();
      return String(entry[entry.indexOf('library_name') + 1]);
    })
    .sort();
}

void describe('scripts as a Redis functions library', () => {
  let server: RedisServerHandle;
  let admin: RedisBackend;
  const prefix = uniquePrefix('fn');
  const orders = defineTopic<{ n: number }>({ name: 'orders' });
  const user = 'fn-producer';

  before(async () => {
    server = await startRedisServer({ appendonly: false });
    admin = await RedisBackend.connect({ url: server.url, prefix, logger: silentLogger });
    await declareTopic(admin.conn, prefix, orders);
    await admin.conn.send(aclSetUserArgs({ user, prefix, publish: [orders] }));
    await admin.conn.send(['ACL', 'SETUSER', user, `>${PASSWORD}`]);
  });

  after(async () => {
    await admin.close();
    await server.stop();
  });

  void test('a user who may load functions loads the library when it is missing', async () => {
    await admin.conn.send(['FUNCTION', 'FLUSH']);
    const receipt = await admin.publish(orders, { id: 'a1', data: { n: 1 } });
    assert.ok(receipt.position);
    assert.deepEqual(await libraries(admin), [heraldLibrary().name]);
  });

  void test('a user who may not gets a typed error naming herald setup; after herald setup it publishes', async () => {
    await admin.conn.send(['FUNCTION', 'FLUSH']);
    const producer = await RedisBackend.connect({
      url: urlWithUser(server.url, user, PASSWORD),
      prefix,
      logger: silentLogger,
    });
    try {
      await assert.rejects(producer.publish(orders, { id: 'b1', data: { n: 2 } }), (e: unknown) => {
        assert.ok(e instanceof ScriptsNotInstalledError, String(e));
        assert.ok(e instanceof ConfigError);
        assert.equal(e.code, 'HERALD_CONFIG');
        assert.match(e.message, /herald setup/);
        assert.match(e.message, new RegExp(heraldLibrary().name));
        return true;
      });
      const setup = await runHerald(['setup', '--url', server.url]);
      assert.equal(setup.code, 0, setup.stderr);
      assert.match(setup.stdout, new RegExp(`library ${heraldLibrary().name} loaded`));
      const first = await producer.publish(orders, { id: 'b1', data: { n: 2 } });
      const again = await producer.publish(orders, { id: 'b1', data: { n: 2 } });
      assert.equal(again.position, first.position, 'deduplicated by the function');
      // The producer's own user cannot run herald setup.
      const refused = await runHerald(['setup', '--url', urlWithUser(server.url, user, PASSWORD)]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /refused FUNCTION LOAD/);
    } finally {
      await producer.close();
    }
  });

  void test('two Herald versions run side by side during a rolling upgrade; --remove-old drops the old one', async () => {
    await admin.conn.send(['FUNCTION', 'FLUSH']);
    // An "older version": the same scripts with different helpers, so a different hash.
    const dir = mkdtempSync(join(tmpdir(), 'herald-fn-'));
    const olderHelpers = join(dir, 'helpers.lua');
    writeFileSync(olderHelpers, `${readFileSync(HELPERS_FILE, 'utf8')}\n-- an older Herald\n`);
    const older = buildLibrary(SCRIPT_FOLDERS, pathToFileURL(olderHelpers));
    const current = heraldLibrary();
    assert.notEqual(older.name, current.name);
    await admin.conn.send(['FUNCTION', 'LOAD', older.source]);
    const setup = await runHerald(['setup', '--url', server.url]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stderr, new RegExp(`other Herald versions still loaded: ${older.name}`));
    assert.deepEqual(await libraries(admin), [older.name, current.name].sort());

    // Old and new instances publish to the same partition with the same dedupe records.
    const keys = partitionKeys(prefix, orders, 0);
    const dedupe = `${keys.dedupePrefix}upgrade-1`;
    const call = (lib: typeof current) =>
      admin.conn.send<[number, string]>([
        'FCALL',
        `${lib.name}_publish_dedupe`,
        '2',
        keys.stream,
        dedupe,
        '60000',
        'id',
        'upgrade-1',
      ]);
    const [storedByOld, position] = await call(older);
    const [storedByNew, seen] = await call(current);
    assert.equal(storedByOld, 1);
    assert.equal(storedByNew, 0, 'the new version sees the old one’s dedupe record');
    assert.equal(seen, position);

    const removed = await runHerald(['setup', '--url', server.url, '--remove-old']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed other versions: ${older.name}`));
    assert.deepEqual(await libraries(admin), [current.name]);
  });
});

void describe('a Redis without functions', () => {
  let server: RedisServerHandle;
  let backend: RedisBackend;
  const prefix = uniquePrefix('nofn');

  before(async () => {
    // FCALL and FUNCTION renamed away: what a Redis before 7.0 (or one with functions disabled) answers.
    server = await startRedisServer({
      appendonly: false,
      extraArgs: ['--rename-command', 'FCALL', '', '--rename-command', 'FUNCTION', ''],
    });
    backend = await RedisBackend.connect({ url: server.url, prefix, logger: silentLogger });
  });

  after(async () => {
    await backend.close();
    await server.stop();
  });

  void test('scripts run with EVAL, and herald setup says so', async () => {
    const topic = defineTopic<{ n: number }>({ name: 'orders' });
    const first = await backend.publish(topic, { id: 'x1', data: { n: 1 } });
    const again = await backend.publish(topic, { id: 'x1', data: { n: 1 } });
    assert.equal(again.position, first.position);
    const setup = await runHerald(['setup', '--url', server.url]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stdout, /no functions \(before 7\.0\); scripts run with EVAL/);
  });
});

void describe('herald setup on a Redis Cluster', () => {
  let cluster: RedisClusterSetup;

  before(async () => {
    cluster = await startCluster({ masters: 3 });
  });

  after(async () => {
    await cluster.stop();
  });

  void test('loads the library on every primary', async () => {
    const setup = await runHerald(['setup', '--url', cluster.url]);
    assert.equal(setup.code, 0, setup.stderr);
    const name = heraldLibrary().name;
    assert.equal(
      setup.stdout.match(new RegExp(`library ${name} loaded`, 'g'))?.length,
      3,
      setup.stdout,
    );
    for (const node of cluster.nodes) {
      const listed = await commandAt<unknown[]>(node.port, [
        'FUNCTION',
        'LIST',
        'LIBRARYNAME',
        name,
      ]);
      assert.equal(listed.length, 1, `node ${node.port} has the library`);
    }
  });
});
