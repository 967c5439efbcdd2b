// The API reference in docs/api is generated from the doc comments (npm run docs:api): it must
// match what the sources generate now, so it never drifts from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

void test('docs/api is what `npm run docs:api` generates from the current sources', () => {
  mkdirSync(path.join(root, '.herald'), { recursive: true });
  const out = mkdtempSync(path.join(root, '.herald', 'api-'));
  try {
    execFileSync(
      process.execPath,
      [
        path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'),
        '--out',
        out,
        '--logLevel',
        'Error',
      ],
      { cwd: root, stdio: 'pipe' },
    );
    const committed = path.join(root, 'docs', 'api');
    const files = readdirSync(out).sort();
    assert.deepEqual(readdirSync(committed).sort(), files, 'same pages');
    for (const f of files) {
      assert.equal(
        readFileSync(path.join(committed, f), 'utf8'),
        readFileSync(path.join(out, f), 'utf8'),
        `docs/api/${f} is out of date: run npm run docs:api`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
