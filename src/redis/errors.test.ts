/**
 * Redis errors recognised in one place (error-kinds.ts) and mapped onto Herald's typed errors
 * (errors.ts): each condition is provoked on a real redis-server (the suite's, or a private one
 * for what would disturb other tests: OOM, a replica, a password on the default user), and the
 * error node-redis hands over is checked against the predicates and against toHeraldError.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClientOfflineError,
  CommandTimeoutDuringMaintenanceError,
  ConnectionTimeoutError,
  createClient,
  ErrorReply,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketTimeoutDuringMaintenanceError,
  TimeoutError as NodeRedisTimeoutError,
} from 'redis';
import {
  AuthError,
  CapacityError,
  ClosedError,
  ConnectionError,
  HeraldError,
  PermissionError,
  RedisError,
  TimeoutError,
} from '../core/errors.ts';
import { getFreePort } from '../embedded/redis-server.ts';
import {
  startRedisServer,
  testRedisUrl,
  uniquePrefix,
  type RedisServerHandle,
  urlWithUser,
} from '../test-support/redis.ts';
import { connect, type RedisConnection } from './connection.ts';
import * as kinds from './error-kinds.ts';
import { toHeraldError } from './errors.ts';

/** Generous under a loaded machine; the refused and refused-password cases answer at once. */
const CONNECT_TIMEOUT_MS = 20_000;
const PASSWORD = 'errors-test-password';

/** The rejection of `work`; fails the test when it succeeds. */
async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (e) {
    return e;
  }
  return assert.fail('expected a rejection');
}

/** The predicates that take just the error, by name. */
const PREDICATES = {
  isNoGroup: kinds.isNoGroup,
  isNoScript: kinds.isNoScript,
  isOutOfMemory: kinds.isOutOfMemory,
  isFunctionMissing: kinds.isFunctionMissing,
  isLibraryPresent: kinds.isLibraryPresent,
  isPermissionRefusal: kinds.isPermissionRefusal,
  isAuthFailure: kinds.isAuthFailure,
  isNodeUnavailable: kinds.isNodeUnavailable,
  isRefusedDuringMigration: kinds.isRefusedDuringMigration,
  isClientClosed: kinds.isClientClosed,
  isRootNodesUnavailable: kinds.isRootNodesUnavailable,
  isWatchConflict: kinds.isWatchConflict,
  isClientTimeout: kinds.isClientTimeout,
  isConnectionLost: kinds.isConnectionLost,
  isTlsFailure: kinds.isTlsFailure,
} as const;

/** Exactly the predicates named in `expected` hold for `e`. */
function assertKinds(e: unknown, ...expected: (keyof typeof PREDICATES)[]): void {
  const held = Object.entries(PREDICATES)
    .filter(([, is]) => is(e))
    .map(([name]) => name);
  assert.deepEqual(held.sort(), [...expected].sort(), `for ${String(e)}`);
}

/** toHeraldError maps `e` onto `type` (and keeps `e` as the cause). */
function assertMapsTo(e: unknown, type: new (...a: never[]) => HeraldError): HeraldError {
  const mapped = toHeraldError(e, 'the test command');
  assert.ok(mapped instanceof type, `${String(e)} mapped to ${mapped.name}, not ${type.name}`);
  assert.equal(mapped.cause, e);
  return mapped;
}

void describe('server error replies, on the suite Redis', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('errors');
  const user = `errors-${prefix.slice(prefix.lastIndexOf(':') + 1)}`;
  let conn: RedisConnection;

  before(async () => {
    conn = await connect({ url, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    // May use every command but GET, on the test's keys only.
    await conn.send([
      'ACL',
      'SETUSER',
      user,
      'on',
      `>${PASSWORD}`,
      `~${prefix}:*`,
      '+@all',
      '-get',
    ]);
  });
  after(async () => {
    await conn.send(['ACL', 'DELUSER', user]);
    await conn.close();
  });

  void test('NOGROUP: XREADGROUP on a missing stream', async () => {
    const e = await failureOf(
      conn.send(['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', `${prefix}:missing`, '>']),
    );
    assert.equal(kinds.replyCode(e), 'NOGROUP');
    assertKinds(e, 'isNoGroup');
    assertMapsTo(e, RedisError);
  });

  void test('NOSCRIPT: EVALSHA of an unknown script', async () => {
    const e = await failureOf(conn.send(['EVALSHA', '0'.repeat(40), '0']));
    assertKinds(e, 'isNoScript');
    assertMapsTo(e, RedisError);
  });

  void test('function not found, library already exists', async () => {
    const missing = await failureOf(conn.send(['FCALL', `${user.replace(/-/g, '_')}_none`, '0']));
    assertKinds(missing, 'isFunctionMissing');
    assertMapsTo(missing, RedisError);

    const library = user.replace(/-/g, '_');
    const source = `#!lua name=${library}\nredis.register_function('${library}_f', function() return 1 end)`;
    await conn.send(['FUNCTION', 'LOAD', source]);
    try {
      const present = await failureOf(conn.send(['FUNCTION', 'LOAD', source]));
      assertKinds(present, 'isLibraryPresent');
    } finally {
      await conn.send(['FUNCTION', 'DELETE', library]);
    }
  });

  void test('unknown command, told apart from an unknown command inside a script', async () => {
    const e = await failureOf(conn.send(['NOSUCHCOMMAND', 'x']));
    assert.ok(kinds.isUnknownCommand(e, 'nosuchcommand'));
    assert.ok(kinds.isUnknownCommand(e, 'NoSuchCommand'));
    assert.ok(!kinds.isUnknownCommand(e, 'fcall'));
    assertKinds(e);

    const inScript = await failureOf(
      conn.send(['EVAL', "return redis.call('nosuchcommand')", '0']),
    );
    assert.ok(!kinds.isUnknownCommand(inScript, 'nosuchcommand'), String(inScript));
    assert.ok(!kinds.isUnknownCommand(inScript, 'eval'), String(inScript));
    assertMapsTo(inScript, RedisError);
  });

  void test('NOPERM and a refusal inside a script, for an ACL user', async () => {
    const limited = createClient({ url: urlWithUser(url, user, PASSWORD) });
    limited.on('error', () => {});
    await limited.connect();
    try {
      const command = await failureOf(limited.sendCommand(['GET', `${prefix}:k`]));
      assert.equal(kinds.replyCode(command), 'NOPERM');
      assertKinds(command, 'isPermissionRefusal');
      assertMapsTo(command, PermissionError);

      const key = await failureOf(limited.sendCommand(['SET', 'outside-the-prefix', '1']));
      assertKinds(key, 'isPermissionRefusal');

      const script = await failureOf(
        limited.sendCommand(['EVAL', "return redis.call('GET', KEYS[1])", '1', `${prefix}:k`]),
      );
      assert.equal(kinds.replyCode(script), 'ERR');
      assertKinds(script, 'isPermissionRefusal');
      assertMapsTo(script, PermissionError);
    } finally {
      limited.destroy();
    }
    // Herald's connection names the command and the key itself.
    const herald = await connect({ url: urlWithUser(url, user, PASSWORD) });
    try {
      const e = await failureOf(herald.send(['GET', `${prefix}:k`]));
      assert.ok(e instanceof PermissionError, String(e));
      assert.equal(e.command, 'GET');
      assert.equal(e.key, `${prefix}:k`);
    } finally {
      await herald.close();
    }
  });

  void test('WRONGPASS: a connect gives up at once with an AuthError', async () => {
    const raw = createClient({
      url: urlWithUser(url, user, 'not-the-password'),
      socket: { reconnectStrategy: false },
    });
    raw.on('error', () => {});
    const e = await failureOf(raw.connect());
    assert.equal(kinds.replyCode(e), 'WRONGPASS');
    assertKinds(e, 'isAuthFailure');
    assert.ok(kinds.isPermanentConnectFailure(e));
    assertMapsTo(e, AuthError);

    const started = Date.now();
    const herald = await failureOf(
      connect({
        url: urlWithUser(url, user, 'not-the-password'),
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      }),
    );
    assert.ok(herald instanceof AuthError, String(herald));
    assert.ok(Date.now() - started < CONNECT_TIMEOUT_MS / 2, 'gave up before its timeout');
  });

  void test('WATCH conflict: EXEC after a watched key changed', async () => {
    const key = `${prefix}:watched`;
    const watcher = createClient({ url });
    watcher.on('error', () => {});
    await watcher.connect();
    try {
      await watcher.watch(key);
      await conn.send(['SET', key, 'changed']);
      const e = await failureOf(watcher.multi().set(key, 'mine').exec());
      assertKinds(e, 'isWatchConflict');
    } finally {
      watcher.destroy();
    }
  });

  void test('a closed client: ClientClosedError is a ClosedError', async () => {
    const closed = await connect({ url });
    await closed.close();
    const e = await failureOf(closed.send(['PING']));
    assertKinds(e, 'isClientClosed');
    assertMapsTo(e, ClosedError);
  });

  void test('a connection killed under a command: ConnectionError', async () => {
    const victim = createClient({ url, socket: { reconnectStrategy: false } });
    victim.on('error', () => {});
    await victim.connect();
    try {
      const id = String(await victim.sendCommand<number>(['CLIENT', 'ID']));
      const blocked = failureOf(victim.sendCommand(['BLPOP', `${prefix}:never`, '0']));
      await conn.send(['CLIENT', 'KILL', 'ID', id]);
      const e = await blocked;
      assertKinds(e, 'isConnectionLost');
      assertMapsTo(e, ConnectionError);
    } finally {
      victim.destroy();
    }
  });

  void test('a refused connection: ConnectionError', async () => {
    const port = await getFreePort();
    const raw = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
    raw.on('error', () => {});
    const e = await failureOf(raw.connect());
    assert.equal(kinds.errnoCode(e), 'ECONNREFUSED');
    assertKinds(e, 'isConnectionLost');
    assertMapsTo(e, ConnectionError);

    const herald = await failureOf(
      connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000 }),
    );
    assert.ok(herald instanceof ConnectionError, String(herald));
    assert.match(herald.message, /ECONNREFUSED/);
  });
});

void describe('server error replies, on private servers', () => {
  let primary: RedisServerHandle;
  let replica: RedisServerHandle;
  let conn: RedisConnection;
  let replicaConn: RedisConnection;

  before(async () => {
    primary = await startRedisServer({ appendonly: false });
    // A replica of a port where nothing listens: it never syncs, so it stays a cut-off replica.
    replica = await startRedisServer({
      appendonly: false,
      replicaOf: { host: '127.0.0.1', port: await getFreePort() },
    });
    conn = await connect({ url: primary.url });
    replicaConn = await connect({ url: replica.url });
  });
  after(async () => {
    await conn.close();
    await replicaConn.close();
    await Promise.all([primary.stop(), replica.stop()]);
  });

  void test('OOM: a write over maxmemory is a CapacityError', async () => {
    await conn.send(['CONFIG', 'SET', 'maxmemory', '1']);
    try {
      const e = await failureOf(conn.send(['SET', 'k', 'v']));
      assert.equal(kinds.replyCode(e), 'OOM');
      assertKinds(e, 'isOutOfMemory');
      assertMapsTo(e, CapacityError);
    } finally {
      await conn.send(['CONFIG', 'SET', 'maxmemory', '0']);
    }
  });

  void test('READONLY and MASTERDOWN: a replica cut from its master is a ConnectionError', async () => {
    const write = await failureOf(replicaConn.send(['SET', 'k', 'v']));
    assert.equal(kinds.replyCode(write), 'READONLY');
    assertKinds(write, 'isNodeUnavailable');
    assertMapsTo(write, ConnectionError);

    await replicaConn.send(['CONFIG', 'SET', 'replica-serve-stale-data', 'no']);
    const read = await failureOf(replicaConn.send(['GET', 'k']));
    assert.equal(kinds.replyCode(read), 'MASTERDOWN');
    assertKinds(read, 'isNodeUnavailable');
    assertMapsTo(read, ConnectionError);
  });

  void test('NOAUTH: no password where the default user needs one is an AuthError', async () => {
    // Connections open now stay authenticated; new ones without a password are refused.
    await conn.send(['ACL', 'SETUSER', 'default', 'resetpass', `>${PASSWORD}`]);
    const raw = createClient({ url: primary.url, socket: { reconnectStrategy: false } });
    raw.on('error', () => {});
    const e = await failureOf(raw.connect());
    assert.equal(kinds.replyCode(e), 'NOAUTH');
    assertKinds(e, 'isAuthFailure');
    assertMapsTo(e, AuthError);
  });
});

void describe('client-side conditions that a test cannot provoke on demand', () => {
  // node-redis's own errors, made directly: its command timeout (only while a command waits to
  // be written), an offline queue, a cluster's root nodes, a reconnect strategy giving up.
  const cases: [Error, (keyof typeof PREDICATES)[], new (...a: never[]) => HeraldError][] = [
    [new NodeRedisTimeoutError(), ['isClientTimeout'], TimeoutError],
    [new CommandTimeoutDuringMaintenanceError(1), ['isClientTimeout'], TimeoutError],
    [new SocketTimeoutDuringMaintenanceError(1), ['isConnectionLost'], ConnectionError],
    [new ConnectionTimeoutError(), ['isConnectionLost'], ConnectionError],
    [new ClientOfflineError(), ['isConnectionLost'], ConnectionError],
    [
      new ReconnectStrategyError(new Error('gave up'), undefined),
      ['isConnectionLost'],
      ConnectionError,
    ],
    [
      new RootNodesUnavailableError(),
      ['isConnectionLost', 'isRootNodesUnavailable'],
      ConnectionError,
    ],
  ];
  for (const [error, expected, mapped] of cases) {
    void test(`${error.constructor.name}: ${expected.join(', ')}, a ${mapped.name}`, () => {
      assertKinds(error, ...expected);
      assertMapsTo(error, mapped);
    });
  }

  void test('refused during a slot migration: TRYAGAIN, and an ASK to a node not known yet', () => {
    // Both seen in cluster-reshard.test.ts; neither command ran, so the publisher sends them again.
    const tryAgain = new ErrorReply('TRYAGAIN Multiple keys request during rehashing of slot');
    assertKinds(tryAgain, 'isNodeUnavailable', 'isRefusedDuringMigration');
    assertMapsTo(tryAgain, ConnectionError);
    const unknownNode = new Error('Cannot find node 127.0.0.1:33973');
    assertKinds(unknownNode, 'isRefusedDuringMigration');
    assertMapsTo(unknownNode, RedisError);
    // A message of Herald's or a handler's quoting it is not one.
    assertKinds(new Error('publish failed: Cannot find node 127.0.0.1:1 (retried)'));
  });

  void test('replies are recognised by class and code, not by text alone', () => {
    // A plain Error quoting a reply is not one (a message of Herald's or of a handler).
    const quoted = new Error('NOGROUP No such key');
    assertKinds(quoted);
    assert.equal(kinds.replyCode(quoted), undefined);
    assertMapsTo(quoted, RedisError);
    // A reply whose code is a prefix of another word is not that code.
    assertKinds(new ErrorReply('OOMPH not a code'));
    const thrown = toHeraldError('a thrown string', 'the test command');
    assert.ok(thrown instanceof RedisError);
    assert.match(thrown.message, /a thrown string/);
  });
});

void describe('the protocol strings live in error-kinds.ts only', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  // In quotes: a code in a comment (`OOM`) is prose, not a test.
  const CODES =
    /['"](NOGROUP|NOSCRIPT|OOM|NOPERM|WRONGPASS|NOAUTH|BUSYGROUP|LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|ERR unknown|ERR Function|ERR Library)\b/;
  const NAME_CHECK = /constructor\.name\s*===|\.name\s*===\s*'\w+Error'/;

  function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
    });
  }

  void test('no other source file tests a reply code or a constructor name', () => {
    const offenders = ['src', 'examples', 'bench']
      .flatMap((dir) => sources(join(root, dir)))
      .filter((path) => !path.endsWith(join('src', 'redis', 'error-kinds.ts')))
      .filter((path) => {
        const text = readFileSync(path, 'utf8');
        return CODES.test(text) || NAME_CHECK.test(text);
      })
      .map((path) => relative(root, path));
    assert.deepEqual(offenders, []);
  });
});
