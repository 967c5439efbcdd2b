import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration } from './output.ts';

void test('durations read with their unit', () => {
  assert.equal(formatDuration(950), '950 ms');
  assert.equal(formatDuration(12_300), '12.3 s');
  assert.equal(formatDuration(250_000), '4m 10s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(3_900_000), '1h 5m');
  assert.equal(formatDuration(7 * 86_400_000), '7d');
  assert.equal(formatDuration(undefined), '-');
});

void test('sizes read with their unit', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1.2 * 1024 * 1024), '1.2 MiB');
  assert.equal(formatBytes(undefined), '-');
});
