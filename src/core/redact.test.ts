import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { redactAll, redactError, redactText, redactUrl, secretsOf } from './redact.ts';

const PW = 'Zq9-s3cret';

test('redactUrl masks the password in every URL form, keeping the user and the hosts', () => {
  const cases: [string, string][] = [
    [`redis://:${PW}@host:6379`, 'redis://:***@host:6379'],
    [`rediss://app:${PW}@host:6380/2`, 'rediss://app:***@host:6380/2'],
    [`redis://:p@ss@${PW}@host:6379`, 'redis://:***@host:6379'], // raw '@'
    [`redis://:ab/${PW}/cd@host:6379/0`, 'redis://:***@host:6379/0'], // raw '/'
    [`redis://u:a:b:${PW}@h`, 'redis://u:***@h'], // raw ':'
    [`redis://${PW}@h:1`, 'redis://***@h:1'], // no colon: may be a password
    [
      `redis+sentinel://:${PW}@s1:26379,s2:26379/mymaster`,
      'redis+sentinel://:***@s1:26379,s2:26379/mymaster',
    ],
    [`rediss+cluster://u:${PW}@n1:7000,n2:7001`, 'rediss+cluster://u:***@n1:7000,n2:7001'],
    [`http://:${PW}@h`, 'http://:***@h'], // wrong scheme
    [`:${PW}@h:6379`, ':***@h:6379'], // no scheme at all
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
  ];
  for (const [url, shown] of cases) assert.equal(redactUrl(url), shown, url);
});

test('redactText masks URLs inside messages, stack traces and JSON, not file paths', () => {
  const text = [
    `connect to redis://:p@ss/${PW}@host:6379: no answer`,
    `TypeError: Invalid URL\n  input: 'rediss://u:${PW}@h:1'`,
    JSON.stringify({ url: `redis://:${PW}@h`, other: 'x' }),
    '    at f (file:///work/node_modules/redis/node_modules/@redis/client/dist/index.js:1:2)',
  ].join('\n');
  const out = redactText(text);
  assert.doesNotMatch(out, /s3cret/);
  assert.match(out, /connect to redis:\/\/:\*\*\*@host:6379: no answer/);
  assert.match(out, /'rediss:\/\/u:\*\*\*@h:1'/);
  assert.match(out, /"url":"redis:\/\/:\*\*\*@h","other":"x"/);
  assert.match(out, /node_modules\/@redis\/client/);
});

test('secretsOf and redactAll mask the password wherever a message quotes it, in any form', () => {
  const url = `redis://:p@ss%2F${PW}@h`;
  const secrets = secretsOf(url);
  const text = `AUTH failed for p@ss/${PW} (sent p@ss%2F${PW})`;
  assert.doesNotMatch(redactAll(text, secrets), /s3cret/);
  assert.deepEqual(secretsOf('redis://h:6379'), []);
  assert.deepEqual(secretsOf(undefined), []);
});

test('redactError masks message, stack and fields of an error and its causes', () => {
  const inner = Object.assign(new TypeError(`Invalid URL`), { input: `redis://:${PW}@h/x` });
  const outer = new Error(`connect to redis://:${PW}@h failed`, { cause: inner });
  redactError(outer);
  assert.doesNotMatch(inspect(outer, { depth: 5 }), /s3cret/);
});
