/**
 * Real ACL users made from `herald acl`'s rules (aclSetUserArgs), on the suite's Redis:
 * a producer of `orders` publishes and can do nothing else; a consumer of
 * `orders:billing` consumes, acknowledges, retries and dead-letters. Refusals are
 * PermissionErrors naming the command and the key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PermissionError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor, urlWithUser } from '../test-support/redis.ts';
import { aclSetUserArgs, type AclRequest } from './acl-rules.ts';
import { RedisBackend } from './backend.ts';
import { heraldLibrary, installLibrary } from './functions.ts';
import { allPartitionKeys, partitionKeys, registryKey } from './keys.ts';
import { declareTopic, TopicNotDeclaredError } from './registry.ts';
import { toMap } from './replies.ts';

const PASSWORD = 'acl-test-password';

async function rejectsWithPermission(
  work: Promise<unknown>,
  expected: { command: RegExp; key?: string },
): Promise<PermissionError> {
  try {
    await work;
  } catch (e) {
    assert.ok(e instanceof PermissionError, `expected a PermissionError, got ${String(e)}`);
    assert.match(e.command, expected.command);
    if (expected.key !== undefined) {
      assert.equal(e.key, expected.key);
      assert.ok(e.message.includes(expected.key), e.message);
    }
    assert.equal(e.code, 'HERALD_PERMISSION');
    return e;
  }
  assert.fail('expected the command to be refused');
}

void describe('ACL users with exactly the rights herald acl grants', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('acl');
  const tag = prefix.slice(prefix.lastIndexOf(':') + 1);
  const producerUser = `herald-producer-${tag}`;
  const consumerUser = `herald-consumer-${tag}`;
  const listenerUser = `herald-listener-${tag}`;
  const orders = defineTopic<{ n: number }>({ name: 'orders', partitions: 2 });
  const payments = defineTopic<{ n: number }>({ name: 'payments' });
  let admin: RedisBackend;
  const clients: RedisBackend[] = [];

  async function createUser(user: string, rights: Omit<AclRequest, 'user' | 'prefix'>) {
    await admin.conn.send(aclSetUserArgs({ user, prefix, ...rights }));
    await admin.conn.send(['ACL', 'SETUSER', user, `>${PASSWORD}`]);
    const backend = await RedisBackend.connect({
      url: urlWithUser(url, user, PASSWORD),
      prefix,
      logger: silentLogger,
    });
    clients.push(backend);
    return backend;
  }

  /** What Redis refused this user so far (ACL LOG): 'reason context object' each. */
  async function refusalsOf(user: string): Promise<string[]> {
    const log = await admin.conn.send<unknown[]>(['ACL', 'LOG', '1000']);
    const out: string[] = [];
    for (const entry of log) {
      const e = toMap(entry);
      if (e.username === user)
        out.push(`${String(e.reason)} ${String(e.context)} ${String(e.object)}`);
    }
    return out.sort();
  }

  before(async () => {
    admin = await RedisBackend.connect({ url, prefix, logger: silentLogger });
    assert.notEqual(await installLibrary(admin.conn), 'denied');
    await declareTopic(admin.conn, prefix, orders);
    await declareTopic(admin.conn, prefix, payments);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close({ deadlineMs: 2000 })));
    await admin.conn.send(['ACL', 'DELUSER', producerUser, consumerUser, listenerUser]);
    await admin.close();
  });

  void test('a producer of orders publishes, and cannot read orders, touch payments, EVAL or write the registry', async () => {
    const producer = await createUser(producerUser, { publish: [orders] });
    const ordersKeys = allPartitionKeys(prefix, orders);
    const paymentsStream = partitionKeys(prefix, payments, 0).stream;

    await producer.publish(orders, { data: { n: 1 }, key: 'a' });
    // An explicit id runs the dedupe function (FCALL): the second copy is recognised.
    const first = await producer.publish(orders, { id: `evt-${tag}`, data: { n: 2 }, key: 'b' });
    const again = await producer.publish(orders, { id: `evt-${tag}`, data: { n: 2 }, key: 'b' });
    assert.equal(again.position, first.position);
    const lengths = await Promise.all(
      ordersKeys.map((k) => admin.conn.send<number>(['XLEN', k.stream])),
    );
    assert.equal(
      lengths.reduce((a, b) => a + b, 0),
      2,
    );

    assert.deepEqual(await refusalsOf(producerUser), [], 'publishing was refused nothing');

    const firstStream = ordersKeys[0]?.stream ?? '';
    await rejectsWithPermission(producer.conn.send(['XRANGE', firstStream, '-', '+']), {
      command: /^XRANGE$/,
      key: firstStream,
    });
    await rejectsWithPermission(producer.conn.send(['XREAD', 'STREAMS', firstStream, '0']), {
      command: /^XREAD$/,
    });
    await rejectsWithPermission(producer.publish(payments, { data: { n: 3 } }), {
      command: /^XADD$/,
      key: paymentsStream,
    });
    await rejectsWithPermission(producer.conn.send(['XRANGE', paymentsStream, '-', '+']), {
      command: /^XRANGE$/,
      key: paymentsStream,
    });
    await rejectsWithPermission(producer.conn.send(['EVAL', 'return 1', '0']), {
      command: /^EVAL$/,
    });
    await rejectsWithPermission(
      producer.conn.send([
        'FUNCTION',
        'LOAD',
        '#!lua name=evil\nredis.register_function("x", function() return 1 end)',
      ]),
      { command: /^FUNCTION LOAD$/ },
    );
    await rejectsWithPermission(
      producer.conn.send(['HSET', registryKey(prefix), 'payments', '{"name":"payments"}']),
      { command: /^HSET$/, key: registryKey(prefix) },
    );
    // FCALL grants nothing beyond the listed commands: a Herald function that reads the
    // stream (group-create runs XINFO) is refused inside, and named as the function.
    const groupCreate = `${heraldLibrary().name}_group_create`;
    await rejectsWithPermission(
      producer.conn.send(['FCALL', groupCreate, '1', firstStream, 'spy', '0']),
      { command: new RegExp(`^FCALL ${groupCreate}$`), key: firstStream },
    );
    // A topic nobody declared: the producer may not declare it.
    const fresh = defineTopic({ name: `fresh-${tag}` });
    await assert.rejects(producer.publish(fresh, { data: 1 }), (e: unknown) => {
      assert.ok(e instanceof TopicNotDeclaredError, String(e));
      assert.match(e.message, /herald topics create/);
      return true;
    });
  });

  void test('a consumer of orders:billing consumes, acknowledges, retries and dead-letters', async () => {
    const consumer = await createUser(consumerUser, {
      consume: [{ topic: orders, group: 'billing' }],
    });
    const attempts = new Map<number, number>();
    const acked: number[] = [];
    const sub = consumer.subscribe(
      orders,
      {
        group: 'billing',
        maxAttempts: 2,
        backoff: { initialMs: 10, maxMs: 50 },
        startFrom: 'beginning',
      },
      (event) => {
        const n = event.data.n;
        const attempt = (attempts.get(n) ?? 0) + 1;
        attempts.set(n, attempt);
        if (n === 20 && attempt === 1) throw new Error('fails once');
        if (n === 30) throw new Error('always fails');
        acked.push(n);
      },
    );
    await sub.ready;
    for (const n of [10, 20, 30]) await admin.publish(orders, { data: { n }, key: `k${n}` });
    await waitFor(() => acked.includes(10) && acked.includes(20), { timeoutMs: 30_000 });
    const dlqLength = async () => {
      let total = 0;
      for (const k of allPartitionKeys(prefix, orders))
        total += await admin.conn.send<number>(['XLEN', k.dlq]);
      return total;
    };
    await waitFor(async () => (await dlqLength()) === 1, { timeoutMs: 30_000 });
    assert.equal(attempts.get(20), 2, 'retried once');
    assert.equal(attempts.get(30), 2, 'dead-lettered after maxAttempts');
    // Everything acknowledged: nothing pending for the group.
    await waitFor(async () => {
      for (const k of allPartitionKeys(prefix, orders)) {
        const [pending] = await admin.conn.send<[number]>(['XPENDING', k.stream, 'billing']);
        if (pending !== 0) return false;
      }
      return true;
    });
    await sub.close({ deadlineMs: 2000 });
    assert.deepEqual(await refusalsOf(consumerUser), [], 'consuming was refused nothing');

    const stream = partitionKeys(prefix, orders, 0).stream;
    await rejectsWithPermission(consumer.conn.send(['XADD', stream, '*', 'forged', '1']), {
      command: /^XADD$/,
      key: stream,
    });
    const paymentsStream = partitionKeys(prefix, payments, 0).stream;
    await rejectsWithPermission(
      consumer.conn.send(['XREADGROUP', 'GROUP', 'billing', 'c', 'STREAMS', paymentsStream, '>']),
      { command: /^XREADGROUP$/ },
    );
    assert.deepEqual(
      await refusalsOf(consumerUser),
      [`key toplevel ${paymentsStream}`, `key toplevel ${stream}`].sort(),
    );
  });

  void test('an ordered consumer of orders:shipping owns partitions, acknowledges and retries with the consume grant', async () => {
    const user = `${consumerUser}-ordered`;
    const consumer = await createUser(user, { consume: [{ topic: orders, group: 'shipping' }] });
    const handled: number[] = [];
    let failedOnce = false;
    const sub = consumer.subscribe(
      orders,
      {
        group: 'shipping',
        ordered: true,
        startFrom: 'beginning',
        rebalanceWithinMs: 2000,
        backoff: { initialMs: 10, maxMs: 50 },
      },
      (event) => {
        if (event.data.n === 102 && !failedOnce) {
          // A retry claims the event back under the partition's fence (ordered-claim).
          failedOnce = true;
          throw new Error('fails once');
        }
        handled.push(event.data.n);
      },
    );
    const owned = new Set<number>();
    void (async () => {
      for await (const s of sub.status())
        if (s.type === 'partition-assigned') owned.add(s.partition);
    })();
    await sub.ready;
    await waitFor(() => owned.size === orders.partitions, { timeoutMs: 30_000 });
    for (const n of [101, 102, 103]) await admin.publish(orders, { data: { n }, key: 'same' });
    // The earlier tests' events are read too: this group starts at the beginning.
    const mine = (): number[] => handled.filter((n) => n > 100);
    await waitFor(() => mine().length === 3, { timeoutMs: 30_000 });
    assert.deepEqual(mine(), [101, 102, 103], 'one key, in order, the retry before the next');
    await sub.close({ deadlineMs: 2000 });
    await admin.conn.send(['ACL', 'DELUSER', user]).catch(() => {});
    assert.deepEqual(await refusalsOf(user), [], 'ordered consuming was refused nothing');
  });

  void test('a listener of orders.* receives those notifications and no others', async () => {
    const listener = await createUser(listenerUser, { listen: ['orders.*'] });
    const got: string[] = [];
    const sub = await listener.notifications.listen({ pattern: 'orders.*' }, (n) => {
      got.push(n.channel);
    });
    try {
      await admin.notifications.notify('orders.created', { n: 1 });
      await waitFor(() => got.includes('orders.created'));
      await assert.rejects(
        listener.notifications.listen({ pattern: 'payments.*' }, () => {}),
        (e: unknown) => e instanceof PermissionError,
      );
      await rejectsWithPermission(listener.notifications.notify('orders.created', { n: 2 }), {
        command: /^PUBLISH$/,
      });
    } finally {
      await sub.close();
    }
  });
});
