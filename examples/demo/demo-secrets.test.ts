/**
 * The demo's start-up against a TLS-only Redis with a password (raw '@', '/', ':') and client
 * certificates given through REDIS_TLS_*: every service connects over mutual TLS, and
 * nothing the demo or its services print shows the password. With a wrong password it stops
 * at once, saying why, again without the password.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../src/test-support/redis.ts';
import {
  makeTestCertificates,
  startTlsRedisServer,
  type TestCertificates,
  type TlsRedisServer,
} from '../../src/test-support/tls.ts';

const CANARY = 'DemoCanary5309';
const PASSWORD = `d@mo/pw:${CANARY}`;
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Five services and the storefront start on a shared, loaded machine. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

let certs: TestCertificates;
let server: TlsRedisServer;

before(async () => {
  certs = makeTestCertificates();
  server = await startTlsRedisServer(certs, { password: PASSWORD });
});
after(async () => {
  await server.stop();
});

interface DemoRun {
  output(): string;
  readonly exited: Promise<number | null>;
  stop(): void;
}

function startDemo(redisUrl: string): DemoRun {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl,
    REDIS_TLS_CA_FILE: certs.caCert,
    REDIS_TLS_CERT_FILE: certs.clientCert,
    REDIS_TLS_KEY_FILE: certs.clientKey,
    HERALD_LOG_LEVEL: 'warn',
  };
  delete env.HERALD_DEBUG;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    output: () => output,
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

describe('the demo over TLS with a password', () => {
  test('starts every service over mutual TLS and never prints the password', async () => {
    const demo = startDemo(server.url);
    try {
      await waitFor(() => demo.output().includes('Herald demo is running'), {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 100,
        message: `the demo did not start: ${demo.output().slice(-2000)}`,
      });
    } finally {
      demo.stop();
    }
    await Promise.race([
      demo.exited,
      new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS)),
    ]);
    const output = demo.output();
    assert.match(output, new RegExp(`Redis +rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}`));
    for (const service of ['order', 'payment', 'fulfillment', 'monitor', 'lending']) {
      assert.match(output, new RegExp(`\\[${service}\\] [^\\n]* ready\\n`), output);
    }
    assert.ok(!output.includes(CANARY), output);
  });

  test('with a wrong password it stops at once, saying so, without the password', async () => {
    const demo = startDemo(server.url.replace(PASSWORD, `${PASSWORD}-wrong`));
    const code = await demo.exited;
    assert.equal(code, 1);
    assert.match(demo.output(), /The demo could not start: .*refused the credentials/);
    assert.ok(!demo.output().includes(CANARY), demo.output());
  });
});
