// The CLI prints no colour or other escape sequence, even on a real terminal with colour
// asked for (FORCE_COLOR=1): `script` (util-linux) gives the command a pseudo-terminal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/herald.mjs', import.meta.url));

/** Runs `herald args` on a pseudo-terminal; returns what the terminal received. */
function onTerminal(args: readonly string[]): string {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`);
  try {
    return execFileSync('script', ['-qec', quoted.join(' '), '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '1', TERM: 'xterm-256color' },
      timeout: 60_000,
    });
  } catch (e) {
    // A command that exits 1 (an unknown topic) still printed what we check.
    const out = (e as { stdout?: string }).stdout;
    if (typeof out === 'string') return out;
    throw e;
  }
}

void test('no escape sequences on a terminal, even with FORCE_COLOR=1', () => {
  const g = ['--url', testRedisUrl(), '--prefix', uniquePrefix('no-colour')];
  for (const args of [
    ['--help'],
    ['help', 'groups'],
    ['topics', ...g],
    ['groups', 'nosuch', ...g],
  ]) {
    const out = onTerminal(args);
    assert.ok(out.trim().length > 0, `herald ${args.join(' ')} printed something`);
    assert.ok(!out.includes('\u001b'), `herald ${args.join(' ')} printed an escape:\n${out}`);
  }
});
