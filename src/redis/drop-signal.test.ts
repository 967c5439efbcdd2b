/**
 * DropSignal: the abort signal of a batch, made only when a command needs it (the connection is
 * down), and the read's write-wait timer, armed only then.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DropSignal } from './connection.ts';

function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) resolve();
      else if (performance.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(poll, 2);
    };
    poll();
  });
}

describe('DropSignal', () => {
  test('drop() aborts the signal a command took, and one taken after the drop', () => {
    const d = new DropSignal();
    const taken = d.signal;
    assert.equal(taken.aborted, false);
    d.drop();
    assert.equal(taken.aborted, true);
    const late = new DropSignal();
    late.drop();
    assert.equal(late.signal.aborted, true, 'a command sent after the deadline is dropped too');
  });

  test('a batch signal takes a listener per command without a MaxListeners warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const d = new DropSignal();
      for (let i = 0; i < 50; i++) d.signal.addEventListener('abort', () => {});
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('with dropAfterMs, the timer is armed only once a command takes the signal', async () => {
    const unused = new DropSignal(20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Nothing took the signal (a ready connection): no timer ran, so it is not dropped.
    assert.equal(unused.signal.aborted, false);

    const offline = new DropSignal(20);
    const signal = offline.signal; // a read queued while the connection is down
    await until(() => signal.aborted, 2000);
  });

  test('settled() disarms the timer and starts afresh for the next command', async () => {
    const d = new DropSignal(20);
    const first = d.signal;
    d.settled(); // the read was written and answered in time
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(first.aborted, false, 'a settled command is not dropped later');

    const second = d.signal;
    assert.notEqual(second, first, 'the next command gets a new signal');
    await until(() => second.aborted, 2000);
    d.settled();
    assert.equal(
      d.signal.aborted,
      false,
      'after a drop, the next command starts with a live signal',
    );
    d.settled();
  });
});
