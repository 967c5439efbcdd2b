import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from './main.ts';
import { runHerald } from './testing.ts';

/** Every command users can run, with its full name (`dlq replay`). */
function leafCommands(cmd: Command, path: string[] = []): { name: string; cmd: Command }[] {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => {
      const here = [...path, c.name()];
      const children = leafCommands(c, here);
      return [{ name: here.join(' '), cmd: c }, ...children];
    });
}

function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

void describe('herald --help and errors', () => {
  void test('every command has --help with examples', () => {
    const all = leafCommands(buildProgram());
    const names = all.map((c) => c.name);
    for (const expected of ['topics', 'groups', 'publish', 'tail', 'dlq', 'dlq list', 'dlq show']) {
      assert.ok(names.includes(expected), `${expected} is registered`);
    }
    for (const expected of ['dlq replay', 'dlq purge', 'trim', 'doctor', 'exporter']) {
      assert.ok(names.includes(expected), `${expected} is registered`);
    }
    for (const { name, cmd } of all) {
      const help = helpOf(cmd);
      assert.match(help, /\nExamples:\n/, `herald ${name} --help has examples`);
      assert.match(
        help,
        new RegExp(`\\$ herald ${name.split(' ')[0]}\\b`),
        `herald ${name} examples run it`,
      );
    }
  });

  void test('--help as a user runs it: exit 0, usage, global options and examples', async () => {
    const r = await runHerald(['groups', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: herald groups \[options\] <topic>\n/);
    assert.match(r.stdout, /\nGlobal Options:\n +--url <url> +Redis URL/);
    assert.match(r.stdout, /\n +--prefix <prefix> +prefix of Herald keys \(default: "herald"\)/);
    assert.match(r.stdout, /\nExamples:\n {2}\$ herald groups orders\n/);
  });

  void test('a bad URL is one clear line on stderr, exit 1', async () => {
    const r = await runHerald(['topics', '--url', 'http://localhost:6379']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      "herald: Redis URL 'http://localhost:6379' is not redis://, rediss://, redis+sentinel:// or redis+cluster://\n",
    );
  });

  void test('an unreachable Redis is one line naming the URL', async () => {
    const r = await runHerald(['topics', '--url', 'redis://127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(
      r.stderr,
      /^herald: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1 \(.+\); set --url or REDIS_URL\n$/,
    );
  });

  void test('HERALD_DEBUG=1 prints the stack trace too', async () => {
    const debug = await runHerald(['dlq', 'list', 'x', '--url', 'http://nope'], {
      env: { HERALD_DEBUG: '1' },
    });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /ConfigError: Redis URL 'http:\/\/nope' is not redis:\/\//);
    assert.match(debug.stderr, /\n {4}at /);
  });

  void test('REDIS_URL is used when --url is not given', async () => {
    const r = await runHerald(['doctor'], { env: { REDIS_URL: 'http://from-env' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^herald: Redis URL 'http:\/\/from-env' is not redis:\/\//);
  });
});
