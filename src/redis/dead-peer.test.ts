import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../test-support/redis.ts';
import { blockingMsOf, DeadPeerWatchdog } from './dead-peer.ts';

/** A small bound so the watchdog's clock ticks fast. */
const BOUND_MS = 400;

test('blockingMsOf reads the blocking time of the commands that block, 0 for the others', () => {
  assert.equal(blockingMsOf(['XADD', 's', '*', 'f', 'v']), 0);
  assert.equal(blockingMsOf(['XRANGE', 's', '-', '+']), 0);
  assert.equal(blockingMsOf(['EVALSHA', 'abc', '0']), 0);
  assert.equal(
    blockingMsOf(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '5', 'STREAMS', 's', '>']),
    0,
  );
  assert.equal(
    blockingMsOf(['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '1000', 'STREAMS', 's', '>']),
    1000,
  );
  assert.equal(blockingMsOf(['xread', 'block', '0', 'streams', 's', '$']), Infinity);
  assert.equal(blockingMsOf(['BLMOVE', 'a', 'a', 'RIGHT', 'RIGHT', '1.500']), 1500);
  assert.equal(blockingMsOf(['BLMPOP', '2', '1', 'k', 'LEFT']), 2000);
  assert.equal(blockingMsOf(['WAIT', '1', '500']), 500);
  assert.equal(blockingMsOf(['WAITAOF', '1', '0', '250']), 250);
});

function watchdog(): { dog: DeadPeerWatchdog; dead: number[]; pings: number[] } {
  const dead: number[] = [];
  const pings: number[] = [];
  const dog = new DeadPeerWatchdog({
    timeoutMs: BOUND_MS,
    ordered: true,
    ping: () => void pings.push(Date.now()),
    onDead: (silentMs) => void dead.push(silentMs),
  });
  return { dog, dead, pings };
}

test('a reply that never comes is declared dead within the bound; answered ones are not', async () => {
  const { dog, dead } = watchdog();
  try {
    dog.track(Promise.resolve('OK'), 0);
    const t0 = Date.now();
    dog.track(new Promise(() => {}), 0);
    await waitFor(() => dead.length === 1, { timeoutMs: 5000 });
    assert.ok(Date.now() - t0 >= BOUND_MS / 2, 'not before the reply allowance');
  } finally {
    dog.stop();
  }
});

test('a blocking command is given its blocking time first', async () => {
  const { dog, dead } = watchdog();
  try {
    const t0 = Date.now();
    dog.track(new Promise(() => {}), 1000);
    await waitFor(() => dead.length === 1, { timeoutMs: 5000 });
    assert.ok(Date.now() - t0 >= 1000 + BOUND_MS / 2, `declared after ${Date.now() - t0} ms`);
  } finally {
    dog.stop();
  }
});

test('an idle connection is pinged, and not declared dead for it', async () => {
  const { dog, dead, pings } = watchdog();
  try {
    await waitFor(() => pings.length >= 2, { timeoutMs: 5000 });
    assert.equal(dead.length, 0);
  } finally {
    dog.stop();
  }
});
