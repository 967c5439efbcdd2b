import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../core/errors.ts';
import { parseRedisUrl } from './endpoint.ts';

const PW = 'Zq9-s3cret';

test('standalone URLs: hosts, port, database, TLS, and raw or encoded credentials', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6390/3'), {
    kind: 'standalone',
    tls: false,
    credentials: {},
    hosts: [{ host: '127.0.0.1', port: 6390 }],
    database: 3,
  });
  const raw = parseRedisUrl(`rediss://app:p@ss/w:${PW}@redis.internal`);
  assert.equal(raw.tls, true);
  assert.deepEqual(raw.credentials, { username: 'app', password: `p@ss/w:${PW}` });
  assert.deepEqual(raw.hosts, [{ host: 'redis.internal', port: 6379 }]);
  assert.deepEqual(parseRedisUrl(`redis://:p%40ss%2F${PW}@h:1`).credentials, {
    password: `p@ss/${PW}`,
  });
  assert.deepEqual(parseRedisUrl('redis://:50%off@h').credentials, { password: '50%off' });
  assert.deepEqual(parseRedisUrl('redis://[::1]:6379').hosts, [{ host: '::1', port: 6379 }]);
});

test('Sentinel and Cluster URLs, with credentials and TLS', () => {
  const s = parseRedisUrl(`rediss+sentinel://:${PW}@s1,s2:26380/mymaster`);
  assert.equal(s.kind, 'sentinel');
  assert.equal(s.tls, true);
  assert.equal(s.masterName, 'mymaster');
  assert.deepEqual(s.credentials, { password: PW });
  assert.deepEqual(s.hosts, [
    { host: 's1', port: 26379 },
    { host: 's2', port: 26380 },
  ]);
  const c = parseRedisUrl(`redis+cluster://u:${PW}@n1:7000,n2:7001`);
  assert.equal(c.kind, 'cluster');
  assert.equal(c.tls, false);
  assert.deepEqual(c.credentials, { username: 'u', password: PW });
});

test('bad URLs are ConfigErrors that never show the password', () => {
  const bad = [
    `http://:${PW}@h:6379`,
    `:${PW}@h:6379`,
    `redis://:${PW}@h:notaport`,
    `redis://:${PW}@h:1/notadb`,
    `redis://:${PW}@a:1,b:2`,
    `redis+sentinel://:${PW}@s1:26379`,
    `redis://:${PW}@`,
  ];
  for (const url of bad) {
    assert.throws(
      () => parseRedisUrl(url),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('s3cret'),
      url,
    );
  }
});
