// The runner's AOF control on a private server: automatic rewrites off, a rewrite between
// scenarios once the file has grown, finished before the next scenario starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { startRedisServer } from '../src/index.ts';
import { AofQuiet } from './aof-quiet.ts';

void test('AofQuiet turns automatic AOF rewrites off and rewrites between scenarios once grown', async () => {
  const server = await startRedisServer({ appendonly: true });
  const c = createClient({ url: server.url });
  c.on('error', () => {});
  await c.connect();
  const aof = await AofQuiet.open(server.url, 64 * 1024);
  const info = async (field: string): Promise<number> =>
    Number(
      new RegExp(`^${field}:(\\d+)`, 'm').exec(
        await c.sendCommand<string>(['INFO', 'persistence']),
      )?.[1],
    );
  try {
    const config = await c.sendCommand<Record<string, string> | string[]>([
      'CONFIG',
      'GET',
      'auto-aof-rewrite-percentage',
    ]);
    assert.equal(Array.isArray(config) ? config[1] : config['auto-aof-rewrite-percentage'], '0');
    const before = await info('aof_rewrites');
    assert.equal(await aof.between(), false, 'nothing written yet: no rewrite');
    const value = 'x'.repeat(1024);
    for (let i = 0; i < 100; i++) await c.sendCommand(['SET', `aof-quiet:${i}`, value]);
    assert.equal(await aof.between(), true, '100 KB written: rewritten');
    assert.equal(await info('aof_rewrites'), before + 1);
    assert.equal(await info('aof_rewrite_in_progress'), 0, 'finished before between() returned');
    const grown = (await info('aof_current_size')) - (await info('aof_base_size'));
    assert.ok(grown < 64 * 1024, `the rewritten file is the new base (grown ${grown} B since)`);
    assert.equal(aof.rewrites, 1);
    assert.equal(await aof.between(), false, 'nothing written since: no rewrite');
  } finally {
    await aof.close();
    await c.close();
    await server.stop();
  }
});
