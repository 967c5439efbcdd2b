/**
 * Runs scenarios in a process of their own, so each library's CPU is measured
 * apart from the runner and from the others. Started by the runner with an IPC
 * channel: it receives one ChildRequest, answers with ChildMessages, and exits.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { scenarioById } from "./catalogue.js";
import { RedisProbe } from "./probe.js";
function send(message) {
    return new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
}
/**
 * Deletes every key containing the token (SCAN, so it never blocks Redis).
 * redis-smq's keys are left to its own API (smq.ts): deleting them here would
 * leave its global registries naming a queue that no longer exists.
 */
async function deleteKeys(url, token) {
    const c = createClient({ url });
    c.on('error', () => { });
    await c.connect();
    try {
        let cursor = '0';
        do {
            const [next, keys] = await c.sendCommand([
                'SCAN',
                cursor,
                'MATCH',
                `*${token}*`,
                'COUNT',
                '1000',
            ]);
            cursor = next;
            const ours = keys.filter((k) => !k.startsWith('redis-smq-'));
            if (ours.length > 0)
                await c.sendCommand(['UNLINK', ...ours]);
        } while (cursor !== '0');
    }
    finally {
        await c.close();
    }
}
async function runAll(req) {
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
                    events: Math.max(500, Math.round(req.events * def.eventsFactor)),
                    quick: req.quick,
                    probe,
                    progress: (message) => void send({ type: 'progress', id, message }),
                });
                await send({ type: 'result', id, result });
            }
            catch (e) {
                const err = e;
                const missing = err.code === 'ERR_MODULE_NOT_FOUND' ? ' (install the dev dependencies: npm install)' : '';
                await send({
                    type: 'error',
                    id,
                    message: `${err.message || err.name || String(e)}${missing}`,
                });
                if (process.env.HERALD_BENCH_DEBUG === '1')
                    process.stderr.write(`${err.stack ?? String(e)}\n`);
            }
            finally {
                await deleteKeys(req.url, token).catch(() => { });
            }
        }
    }
    finally {
        await probe.close();
    }
}
process.once('message', (req) => {
    runAll(req).then(
    // Libraries may leave timers behind (heartbeats): the work is done, leave.
    () => process.exit(0), (e) => {
        process.stderr.write(`bench child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
});
//# sourceMappingURL=child.js.map