import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../core/errors.ts';
import { allows, authenticate, isLoopback, parseTokens } from './auth.ts';
import { eventsOfBody } from './events-in.ts';
import { HttpError } from './http-errors.ts';
import { RateLimiter } from './rate-limit.ts';
import { StallTracker } from './stall.ts';

test('stall: work and no progress for the window is stalled; progress or no work resets the clock', () => {
  const t = new StallTracker(1000);
  const g = (signature: string, hasWork = true) => [{ key: 'g', signature, hasWork }];
  assert.equal(t.update(g('a'), 0).get('g')?.stalled, false);
  assert.equal(t.update(g('a'), 999).get('g')?.stalled, false);
  assert.deepEqual(t.update(g('a'), 1500).get('g'), { stalled: true, stuckSeconds: 1.5 });
  assert.equal(t.update(g('b'), 1600).get('g')?.stalled, false, 'progress');
  assert.equal(t.update(g('b', false), 5000).get('g')?.stalled, false, 'caught up and idle');
});

test('rate limit: a burst, then one per refill; Retry-After in whole seconds; per caller', () => {
  let now = 0;
  const r = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
  assert.deepEqual([r.take('a'), r.take('a'), r.take('a')], [0, 0, 0]);
  assert.equal(r.take('a'), 1);
  assert.equal(r.take('b'), 0);
  now = 500;
  assert.equal(r.take('a'), 0);
});

test('tokens: parsing, rights, constant-shape checks', () => {
  const tokens = parseTokens(
    JSON.stringify({
      tokens: [{ name: 'p', token: 'p'.repeat(16), rights: ['publish:orders', 'consume:*'] }],
    }),
    'test',
  );
  const caller = authenticate(tokens, `Bearer ${'p'.repeat(16)}`);
  assert.ok(caller);
  assert.equal(authenticate(tokens, 'Bearer nope'), undefined);
  assert.equal(authenticate(tokens, undefined), undefined);
  assert.equal(allows(caller, { kind: 'publish', topic: 'orders' }), true);
  assert.equal(allows(caller, { kind: 'publish', topic: 'payments' }), false);
  assert.equal(allows(caller, { kind: 'consume', group: 'any' }), true);
  assert.equal(allows(caller, { kind: 'read' }), false);
  assert.equal(allows(caller, { kind: 'admin' }), false);
  assert.throws(
    () => parseTokens('{"tokens":[{"token":"short","rights":["read"]}]}', 'f'),
    ConfigError,
  );
  assert.throws(
    () => parseTokens('{"tokens":[{"token":"xxxxxxxxxxxxxxxxxx","rights":["root"]}]}', 'f'),
    ConfigError,
  );
  assert.deepEqual(['127.0.0.1', '::1', 'localhost', '0.0.0.0', '10.0.0.5'].map(isLoopback), [
    true,
    true,
    true,
    false,
    false,
  ]);
});

test('events in: Herald JSON and CloudEvents; the first bad one is named by index', () => {
  assert.deepEqual(
    eventsOfBody(
      {
        specversion: '1.0',
        id: 'x',
        type: 't',
        source: 's',
        data: 1,
        partitionkey: 'k',
        tenant: 'acme',
      },
      10,
    ),
    [{ data: 1, id: 'x', source: 's', type: 't', key: 'k', headers: { tenant: 'acme' } }],
  );
  assert.deepEqual(eventsOfBody([{ data: null, headers: { a: 'b' } }], 10), [
    { data: null, headers: { a: 'b' } },
  ]);
  const bad = (body: unknown) => {
    try {
      eventsOfBody(body, 2);
    } catch (e) {
      return e instanceof HttpError ? [e.status, e.extra.index] : e;
    }
    return 'accepted';
  };
  assert.deepEqual(bad([{ data: 1 }, { data: 1, id: '' }]), [400, 1]);
  assert.deepEqual(bad([{ data: 1 }, 'text']), [400, 1]);
  assert.deepEqual(bad([{ data: 1 }, { data: 1 }, { data: 1 }]), [400, undefined]);
  assert.deepEqual(bad({ data: 1, headers: { n: 1 } }), [400, 0]);
});
