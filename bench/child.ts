/**
 * Runs scenarios in a process of their own, so each library's CPU is measured
 * apart from the runner and from the others. Started by the runner with an IPC
 * channel: it receives one ChildRequest, answers with ChildMessages, and exits.
 */
import { randomBytes } from 'node:crypto';
import { deleteKeys } from './cleanup.ts';
import { eventsFor, scenarioById } from './catalogue.ts';
import { RedisProbe } from './probe.ts';
import type { RunResult } from './types.ts';

export interface ChildRequest {
  readonly url: string;
  /** Run one after another, each with fresh keys. */
  readonly scenarios: readonly string[];
  readonly events: number;
  readonly quick: boolean;
}

export type ChildMessage =
  | { readonly type: 'start'; readonly id: string }
  | { readonly type: 'progress'; readonly id: string; readonly message: string }
  | { readonly type: 'result'; readonly id: string; readonly result: RunResult }
  | { readonly type: 'error'; readonly id: string; readonly message: string };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
}

async function runAll(req: ChildRequest): Promise<void> {
  const probe = await RedisProbe.connect(req.url);
  try {
    for (const id of req.scenarios) {
      const def = scenarioById(id);
      const token = randomBytes(4).toString('hex');
      await send({ type: 'start', id });
      try {
        const fn = await def.load();
        const result = await fn({
          url: req.url,
          token,
          keyPrefix: `bench:${token}`,
          events: eventsFor(def, req.events),
          quick: req.quick,
          probe,
          progress: (message) => void send({ type: 'progress', id, message }),
        });
        await send({ type: 'result', id, result });
      } catch (e) {
        const err = e as Error & { code?: string };
        const missing =
          err.code === 'ERR_MODULE_NOT_FOUND' ? ' (install the dev dependencies: npm install)' : '';
        await send({
          type: 'error',
          id,
          message: `${err.message || err.name || String(e)}${missing}`,
        });
        if (process.env.HERALD_BENCH_DEBUG === '1')
          process.stderr.write(`${err.stack ?? String(e)}\n`);
      } finally {
        await deleteKeys(req.url, token).catch(() => {});
      }
    }
  } finally {
    await probe.close();
  }
}

process.once('message', (req: ChildRequest) => {
  runAll(req).then(
    // Libraries may leave timers behind (heartbeats): the work is done, leave.
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
});
