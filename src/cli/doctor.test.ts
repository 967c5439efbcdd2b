import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import type { CheckResult } from './doctor/index.ts';
import { parseJson, runHerald, type CliResult } from './testing.ts';

interface DoctorJson {
  ok: boolean;
  summary: { pass: number; warn: number; fail: number };
  checks: CheckResult[];
}

/** The verdicts by check id (a check may report several findings). */
function verdicts(report: DoctorJson): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of report.checks) (out[c.id] ??= []).push(c.verdict);
  return out;
}

function line(r: CliResult, verdict: string, title: string): string {
  const found = r.stdout.split('\n').find((l) => l.startsWith(`${verdict.padEnd(4)}  ${title}`));
  assert.ok(found, `no ${verdict} line for ${title} in:\n${r.stdout}`);
  return found;
}

void describe('herald doctor on a badly configured Redis (no AOF, allkeys-lru, no maxmemory)', () => {
  let server: RedisServerHandle;
  before(async () => {
    server = await startRedisServer({ appendonly: false, maxmemoryPolicy: 'allkeys-lru' });
  });
  after(async () => {
    await server?.stop();
  });

  void test('fails, printing each verdict with the exact fix', async () => {
    const r = await runHerald(['doctor', '--url', server.url, '--sample-interval', '100ms']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '');
    const out = r.stdout;
    line(r, 'PASS', 'Redis version');
    assert.match(line(r, 'FAIL', 'persistence'), /AOF is off/);
    assert.match(out, /run: +CONFIG SET appendonly yes\n/);
    assert.match(out, /redis\.conf: appendonly yes\n/);
    assert.match(
      out,
      /FAIL {2}maxmemory and eviction policy +maxmemory-policy is allkeys-lru: .*\n {6}run: +CONFIG SET maxmemory-policy noeviction\n +CONFIG REWRITE\n {6}redis\.conf: maxmemory-policy noeviction\n/,
    );
    assert.match(out, /FAIL {2}maxmemory and eviction policy +Redis has no maxmemory/);
    assert.match(out, /run: +CONFIG SET maxmemory \d+mb\n/);
    assert.match(line(r, 'WARN', 'replicas'), /no replicas/);
    line(r, 'WARN', 'memory headroom');
    line(r, 'PASS', 'consumer groups');
    assert.match(out, /\n3 FAIL, 2 WARN, 2 PASS\n$/);
  });

  void test('--json gives the same verdicts, machine-readable', async () => {
    const r = await runHerald([
      'doctor',
      '--url',
      server.url,
      '--json',
      '--sample-interval',
      '100ms',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const report = parseJson<DoctorJson>(r);
    assert.equal(report.ok, false);
    assert.deepEqual(verdicts(report), {
      version: ['PASS'],
      persistence: ['FAIL'],
      'memory-policy': ['FAIL', 'FAIL'],
      replicas: ['WARN'],
      'memory-headroom': ['WARN'],
      groups: ['PASS'],
    });
    const policy = report.checks.find(
      (c) => c.id === 'memory-policy' && /allkeys-lru/.test(c.detail),
    );
    assert.deepEqual(policy?.fix?.config, ['maxmemory-policy noeviction']);
  });
});

void describe('herald doctor on a well configured Redis (AOF, maxmemory, noeviction)', () => {
  let server: RedisServerHandle;
  let replica: RedisServerHandle | undefined;
  let backend: RedisBackend;
  before(async () => {
    server = await startRedisServer({ appendonly: true, maxmemory: '256mb' });
    backend = await RedisBackend.connect({ url: server.url, prefix: 'unused' });
  });
  after(async () => {
    await backend?.close();
    await replica?.stop();
    await server?.stop();
  });

  void test('passes; no replica on a single development node is a WARN, not a FAIL', async () => {
    const r = await runHerald(['doctor', '--url', server.url, '--sample-interval', '100ms']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    line(r, 'PASS', 'Redis version');
    assert.match(line(r, 'PASS', 'persistence'), /appendfsync everysec/);
    assert.match(line(r, 'PASS', 'maxmemory and eviction policy'), /256\.0 MiB, policy noeviction/);
    line(r, 'WARN', 'replicas');
    line(r, 'PASS', 'memory headroom');
    line(r, 'PASS', 'consumer groups');
    assert.match(r.stdout, /\n0 FAIL, 1 WARN, 5 PASS\n$/);
  });

  void test('a stuck pending event FAILs and a group whose lag grows WARNs', async () => {
    const prefix = uniquePrefix('doctor');
    const jobs = defineTopic({ name: 'jobs' });
    const app = await RedisBackend.connect({ url: server.url, prefix });
    const stream = partitionKeys(prefix, jobs, 0).stream;
    let publishing: NodeJS.Timeout | undefined;
    try {
      await app.publishBatch(
        jobs,
        [1, 2, 3].map((n) => ({ data: { n } })),
      );
      // 'stuck' read an event and its consumer went away; 'idle' has no consumer at all.
      await app.conn.send(['XGROUP', 'CREATE', stream, 'stuck', '0']);
      await app.conn.send([
        'XREADGROUP',
        'GROUP',
        'stuck',
        'gone',
        'COUNT',
        '1',
        'STREAMS',
        stream,
        '>',
      ]);
      await app.conn.send(['XGROUP', 'CREATE', stream, 'idle', '$']);
      await waitFor(
        async () => {
          const p = await app.conn.send<[string, string, number, number][]>([
            'XPENDING',
            stream,
            'stuck',
            '-',
            '+',
            '1',
          ]);
          return (p[0]?.[2] ?? 0) >= 300;
        },
        { message: 'the pending event idles past 300 ms' },
      );
      // Events keep arriving while doctor samples the lag twice.
      publishing = setInterval(
        () => void app.publish(jobs, { data: { n: 0 } }).catch(() => {}),
        20,
      );
      const r = await runHerald([
        'doctor',
        '--url',
        server.url,
        '--prefix',
        prefix,
        '--stuck-after',
        '300ms',
        '--sample-interval',
        '500ms',
        '--json',
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const groups = parseJson<DoctorJson>(r).checks.filter((c) => c.id === 'groups');
      const fails = groups.filter((c) => c.verdict === 'FAIL');
      const stuck = fails.find((c) => /pending event\(s\) idle/.test(c.detail));
      assert.match(
        stuck?.detail ?? '',
        /^group 'stuck' on 'jobs': 1 pending event\(s\) idle for up to /,
      );
      assert.match(stuck?.fix?.advice ?? '', /start a consumer for 'stuck'/);
      assert.match(stuck?.fix?.advice ?? '', new RegExp(`XGROUP DESTROY ${stream} stuck`));
      const growing = groups.filter((c) => c.verdict === 'WARN').map((c) => c.detail);
      for (const group of ['stuck', 'idle']) {
        // Lag is counted even where Redis reports none (a group created at '$' that never caught up).
        const grew = new RegExp(
          `^group '${group}' on 'jobs': lag grew from \\d+ to \\d+ in 500 ms$`,
        );
        assert.ok(
          growing.some((d) => grew.test(d)),
          growing.join('\n'),
        );
      }
      // Events wait for 'idle' and nobody has read them for longer than --stuck-after: stalled.
      assert.ok(
        fails.some((c) =>
          /^group 'idle' on 'jobs': no progress for .* \(over 300 ms\) with \d+ unread and 0 pending event\(s\), no consumer$/.test(
            c.detail,
          ),
        ),
        fails.map((c) => c.detail).join('\n'),
      );
    } finally {
      clearInterval(publishing);
      await app.close();
    }
  });

  void test('with a replica: WARN until min-replicas-to-write is set, then PASS; a replica itself FAILs', async () => {
    replica = await startRedisServer({ replicaOf: { host: '127.0.0.1', port: server.port } });
    await waitFor(
      async () =>
        /connected_slaves:1/.test(String(await backend.conn.send(['INFO', 'replication']))),
      { message: 'replica connected' },
    );
    const replicas = async (url: string): Promise<CheckResult[]> => {
      const r = await runHerald(['doctor', '--url', url, '--json', '--sample-interval', '100ms']);
      return parseJson<DoctorJson>(r).checks.filter((c) => c.id === 'replicas');
    };
    const before = await replicas(server.url);
    assert.deepEqual(
      before.map((c) => c.verdict),
      ['WARN'],
    );
    assert.deepEqual(before[0]?.fix?.commands?.[0], 'CONFIG SET min-replicas-to-write 1');

    await backend.conn.send(['CONFIG', 'SET', 'min-replicas-to-write', '1']);
    const after = await replicas(server.url);
    assert.deepEqual(
      after.map((c) => [c.verdict, c.detail]),
      [['PASS', '1 replica(s) online, min-replicas-to-write 1']],
    );

    const onReplica = await replicas(replica.url);
    assert.equal(onReplica[0]?.verdict, 'FAIL');
    assert.match(onReplica[0]?.detail ?? '', /this node is a replica of 127\.0\.0\.1:\d+/);
  });
});

void describe('herald doctor: a stopped consumer service, and Redis lag after an AOF restart', () => {
  let server: RedisServerHandle;
  let app: RedisBackend;
  const prefix = uniquePrefix('doctor-stopped');
  const payments = defineTopic({ name: 'payments' });
  const stream = (): string => partitionKeys(prefix, payments, 0).stream;
  // Only the groups check is looked at: this Redis has no maxmemory, which other checks FAIL.
  const doctor = async (...args: string[]): Promise<CheckResult[]> => {
    const r = await runHerald([
      'doctor',
      '--url',
      server.url,
      '--prefix',
      prefix,
      '--sample-interval',
      '100ms',
      '--json',
      ...args,
    ]);
    return parseJson<DoctorJson>(r).checks.filter((c) => c.id === 'groups');
  };
  const details = (groups: readonly CheckResult[], verdict: string): string[] =>
    groups.filter((c) => c.verdict === verdict).map((c) => c.detail);

  before(async () => {
    server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    app = await RedisBackend.connect({ url: server.url, prefix });
    // Both services subscribed before the first publish (Herald creates their groups then);
    // 'fulfillment' handled everything, 'payment' was stopped and has 5 events waiting.
    for (const group of ['fulfillment', 'payment']) {
      const sub = app.subscribe(payments, { group }, () => Promise.resolve());
      await sub.ready;
      await sub.close();
    }
    let handled = 0;
    const sub = app.subscribe(payments, { group: 'fulfillment' }, () => {
      handled++;
      return Promise.resolve();
    });
    await sub.ready;
    await app.publishBatch(
      payments,
      [1, 2, 3, 4, 5].map((n) => ({ data: { n } })),
    );
    await waitFor(() => handled === 5);
    await waitFor(
      async () =>
        Number((await app.conn.send<[number]>(['XPENDING', stream(), 'fulfillment']))[0]) === 0,
    );
    await sub.close();
    // Consumers leave their names behind only while they hold something: drop them to model a stop.
    for (const group of ['fulfillment', 'payment']) {
      const rows = await app.conn.send<unknown[]>(['XINFO', 'CONSUMERS', stream(), group]);
      for (const row of rows as { name: string }[])
        await app.conn.send(['XGROUP', 'DELCONSUMER', stream(), group, row.name]);
    }
  });
  after(async () => {
    await app?.close();
    await server?.stop();
  });

  void test('unread events and no consumer WARN; no progress past --stuck-after FAILs', async () => {
    const calm = await doctor('--stuck-after', '10m');
    assert.deepEqual(details(calm, 'FAIL'), []);
    assert.deepEqual(details(calm, 'WARN'), [
      "group 'payment' on 'payments': 5 unread and 0 pending event(s) and no consumer",
    ]);
    await waitFor(
      async () => {
        const now = await app.conn.send<[string, string]>(['TIME']);
        const first =
          (await app.conn.send<[string][]>(['XRANGE', stream(), '-', '+', 'COUNT', '1']))[0]?.[0] ??
          '0';
        return Number(now[0]) * 1000 - Number(first.split('-')[0]) > 1500;
      },
      { message: 'the first unread event is 1.5 s old' },
    );
    const stalled = await doctor('--stuck-after', '1s');
    const fails = details(stalled, 'FAIL');
    assert.equal(fails.length, 1, fails.join('\n'));
    assert.match(
      fails[0] ?? '',
      /^group 'payment' on 'payments': no progress for [\d.]+ s \(over 1 s\) with 5 unread and 0 pending event\(s\), no consumer$/,
    );
  });

  void test("after Redis reloads its AOF, the doctor says Redis's lag is wrong and counts instead", async () => {
    await app.close();
    await server.restart();
    app = await RedisBackend.connect({ url: server.url, prefix });
    const groups = await doctor('--stuck-after', '10m');
    const warns = details(groups, 'WARN');
    assert.ok(
      warns.includes(
        "group 'fulfillment' on 'payments': Redis's lag is wrong (Redis says 5, 0 unread); Herald counts the unread events instead",
      ),
      warns.join('\n'),
    );
    assert.ok(
      warns.includes(
        "group 'payment' on 'payments': 5 unread and 0 pending event(s) and no consumer",
      ),
      warns.join('\n'),
    );
  });
});
