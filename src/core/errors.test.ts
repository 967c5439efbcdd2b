import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as errors from './errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md, and nothing else is', () => {
  const codes = new Set<string>(Object.values(errors.ErrorCode));
  const documented = new Set(
    [...doc.matchAll(/^\|\s*`(HERALD_[A-Z_]+)`\s*\|/gm)].map((m) => m[1] as string),
  );
  assert.deepEqual([...documented].sort(), [...codes].sort());
});

test('every documented class exists and carries its code and cause', () => {
  for (const m of doc.matchAll(/^\|\s*`(HERALD_[A-Z_]+)`\s*\|\s*`([A-Za-z]+)`\s*\|/gm)) {
    const [, code, cls] = m as unknown as [string, string, string];
    const Ctor = (errors as Record<string, unknown>)[cls] as
      (new (...a: unknown[]) => errors.HeraldError) | undefined;
    assert.ok(Ctor, `class ${cls} is exported`);
    const cause = new Error('root');
    const args: unknown[] =
      cls === 'DurabilityError'
        ? ['m', { acknowledged: 0, required: 1 }, { cause }]
        : cls === 'CapacityError' || cls === 'ValidationError'
          ? ['m', cls === 'CapacityError' ? {} : [], { cause }]
          : ['m', { cause }];
    const e = new Ctor(...args);
    assert.equal(e.code, code);
    assert.equal(e.name, cls);
    assert.equal(e.cause, cause);
    assert.ok(e instanceof errors.HeraldError);
    assert.ok(errors.isHeraldError(e));
  }
});
