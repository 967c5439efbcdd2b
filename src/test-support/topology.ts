/**
 * Real multi-process Redis topologies for tests: a Sentinel setup (master, replicas,
 * sentinels) and a small Redis Cluster, each started from real `redis-server`
 * processes and torn down by `stop()` (and SIGKILLed when the test process exits,
 * should a test forget).
 *
 * Sentinels run as `redis-server <sentinel.conf> --sentinel`: Sentinel rewrites its
 * config file (it records the replicas and sentinels it discovers), so each one gets
 * a writable file in a temp dir of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import {
  findRedisServerBinary,
  getFreePort,
  startRedisServer,
  type RedisServerHandle,
} from '../embedded/redis-server.ts';
import { parseInfo } from '../ops/inspect.ts';
import { waitFor } from './redis.ts';

// ---------------------------------------------------------------------------
// Small helpers

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;

/** Kills every process started here and removes the temp dirs (at exit or on a signal). */
function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killChildren);
  // A signal ends the process without 'exit' handlers: kill the sentinels, step aside and
  // raise the signal again, so the redis-server launcher's own handler (which acts only
  // when it is the sole listener) or the default action ends the process as before.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killChildren();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

function tempDir(name: string): string {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), `herald-${name}-`));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Sends one command to the server at `port` on a short-lived connection. */
export async function commandAt<T = unknown>(port: number, args: string[]): Promise<T> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 2000 },
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand<T>(args);
  } finally {
    client.destroy();
  }
}

export async function infoAt(port: number, section: string): Promise<Record<string, string>> {
  return parseInfo(String(await commandAt(port, ['INFO', section])));
}

// ---------------------------------------------------------------------------
// Sentinel

/** One sentinel process. */
export interface SentinelProcess {
  readonly port: number;
  readonly pid: number;
  /** Last lines the sentinel logged (its view of the failover). */
  output(): string;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Starts a sentinel on a free port; tries another port if the one picked was taken meanwhile. */
async function startSentinelProcess(config: string): Promise<SentinelProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSentinelOnce(config);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/i.test(String(e))) throw e;
    }
  }
}

async function startSentinelOnce(config: string): Promise<SentinelProcess> {
  const binary = findRedisServerBinary();
  if (binary === undefined) throw new Error('redis-server is not installed');
  const dir = tempDir('sentinel');
  const port = await getFreePort();
  const file = path.join(dir, 'sentinel.conf');
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      'daemonize no',
      `dir ${dir}`,
      config,
      '',
    ].join('\n'),
  );
  const child = spawn(binary, [file, '--sentinel'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const append = (c: Buffer): void => {
    output = (output + c.toString()).slice(-16_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  // A forgotten sentinel must not keep the test process alive; the exit hook kills it.
  child.unref();
  (child.stdout as net.Socket | null)?.unref();
  (child.stderr as net.Socket | null)?.unref();
  const kill = async (): Promise<void> => {
    // The child is unref'd: ref it while waiting, or an otherwise idle event loop would end
    // with this wait still pending.
    child.ref();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    removeDir(dir);
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`sentinel exited: ${output}`);
        return (await commandAt(port, ['PING'])) === 'PONG';
      },
      { timeoutMs: 10_000, intervalMs: 50, message: `sentinel on port ${port} did not start` },
    );
  } catch (e) {
    await kill();
    throw e;
  }
  return { port, pid: child.pid ?? -1, output: () => output.trimEnd(), kill };
}

/** One field of a SENTINEL MASTER reply (a flat list, a map or an object). */
function fieldOf(reply: unknown, name: string): string | undefined {
  const entry = entriesOf(reply).find(([n]) => String(n) === name);
  return entry === undefined ? undefined : String(entry[1]);
}

function entriesOf(reply: unknown): [unknown, unknown][] {
  if (Array.isArray(reply)) {
    const entries: [unknown, unknown][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([reply[i], reply[i + 1]]);
    return entries;
  }
  if (reply instanceof Map) return [...(reply as Map<unknown, unknown>)];
  if (typeof reply === 'object' && reply !== null) return Object.entries(reply);
  return [];
}

/** One instance of a SENTINEL MASTERS / REPLICAS reply (a flat list, a map or an object) as `name=value …`. */
function flatFields(reply: unknown): string {
  if (typeof reply !== 'object' || reply === null) return String(reply);
  return entriesOf(reply)
    .filter(([name]) => SENTINEL_FIELDS_SHOWN.has(String(name)))
    .map(([name, value]) => `${String(name)}=${String(value)}`)
    .join(' ');
}

/** The fields of SENTINEL MASTERS / REPLICAS that explain a failover that does not happen. */
const SENTINEL_FIELDS_SHOWN = new Set([
  'ip',
  'port',
  'flags',
  'num-other-sentinels',
  'quorum',
  'failover-state',
  'last-ok-ping-reply',
  'info-refresh',
  'role-reported',
  'master-link-down-time',
  'master-link-status',
  'master-port',
  'slave-priority',
  'slave-repl-offset',
  'config-epoch',
]);

/**
 * What each sentinel thinks of the master and its replicas, each server's role, and the
 * sentinels' last log lines: the explanation of a failover that did not happen in time.
 */
async function sentinelState(
  sentinels: readonly SentinelProcess[],
  masterName: string,
  servers: readonly RedisServerHandle[],
): Promise<string> {
  const lines: string[] = [];
  const ask = async (port: number, args: string[]): Promise<unknown> => {
    try {
      return await commandAt(port, args);
    } catch (e) {
      return `error: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  for (const s of sentinels) {
    lines.push(`sentinel ${s.port}:`);
    const masters = await ask(s.port, ['SENTINEL', 'MASTERS']);
    for (const m of Array.isArray(masters) ? masters : [masters]) {
      lines.push(`  master ${flatFields(m)}`);
    }
    const known = await ask(s.port, ['SENTINEL', 'REPLICAS', masterName]);
    for (const r of Array.isArray(known) ? known : [known])
      lines.push(`  replica ${flatFields(r)}`);
    lines.push(
      ...s
        .output()
        .split('\n')
        .slice(-SENTINEL_LOG_LINES_SHOWN)
        .map((l) => `  | ${l}`),
    );
  }
  for (const server of servers) {
    const role = await ask(server.port, ['ROLE']);
    lines.push(`server ${server.port}: ROLE ${JSON.stringify(role)}`);
  }
  return lines.join('\n');
}

/** Sentinel log lines shown per sentinel when a failover times out. */
const SENTINEL_LOG_LINES_SHOWN = 25;

export interface SentinelSetupOptions {
  /** Default 'mymaster'. */
  readonly masterName?: string;
  /** Default 1. */
  readonly replicas?: number;
  /** Default 1. */
  readonly sentinels?: number;
  /** Default 1000. */
  readonly downAfterMs?: number;
  /** Default 5000. Sentinel does not fail the same master over again within twice this. */
  readonly failoverTimeoutMs?: number;
  /** Append-only file on every Redis node. Default false. */
  readonly appendonly?: boolean;
  /** Sentinels that must agree the master is down. Default 1. */
  readonly quorum?: number;
}

export interface SentinelSetup {
  readonly masterName: string;
  /** redis+sentinel://127.0.0.1:<port>[,…]/<masterName> */
  readonly url: string;
  /** The master at start; after a failover, one of `replicas` is the master. */
  readonly master: RedisServerHandle;
  readonly replicas: readonly RedisServerHandle[];
  readonly sentinels: readonly SentinelProcess[];
  /** The port the sentinels name as master now. */
  masterPort(): Promise<number>;
  /** Waits until the sentinels name another master than `oldPort` and it answers as a master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Kills every process and removes the temp dirs. */
  stop(): Promise<void>;
}

/**
 * A master, its replicas and sentinels monitoring it (quorum 1 unless told). Resolves once
 * every sentinel knows every replica, so a failover can start at once.
 */
export async function startSentinelSetup(
  options: SentinelSetupOptions = {},
): Promise<SentinelSetup> {
  const masterName = options.masterName ?? 'mymaster';
  const servers: RedisServerHandle[] = [];
  const sentinels: SentinelProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...sentinels.map((s) => s.kill()), ...servers.map((s) => s.kill())]);
  };
  try {
    const appendonly = options.appendonly ?? false;
    const master = await startRedisServer({ appendonly });
    servers.push(master);
    const replicas = await Promise.all(
      Array.from({ length: options.replicas ?? 1 }, () =>
        startRedisServer({
          appendonly,
          replicaOf: { host: '127.0.0.1', port: master.port },
        }),
      ),
    );
    servers.push(...replicas);
    await waitFor(
      async () =>
        Number((await infoAt(master.port, 'replication')).connected_slaves) === replicas.length,
      { timeoutMs: 20_000, intervalMs: 50, message: 'the replicas did not connect to the master' },
    );
    const config = [
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} ${options.quorum ?? 1}`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 5000}`,
      `sentinel parallel-syncs ${masterName} 1`,
    ].join('\n');
    for (let i = 0; i < (options.sentinels ?? 1); i++) {
      sentinels.push(await startSentinelProcess(config));
    }
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const known = await commandAt<unknown[]>(s.port, ['SENTINEL', 'REPLICAS', masterName]);
          if (known.length < replicas.length) return false;
        }
        return true;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: 'the sentinels did not discover the replicas',
      },
    );
    // Sentinels find each other through hello messages (every 2 s). One that knows no other
    // elects itself and fails over alone: several may then promote different replicas in the
    // same epoch, which none of them overrides, and the master they name may never answer as
    // master (a failover that "did not happen" in 30 s).
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const reply = await commandAt<unknown>(s.port, ['SENTINEL', 'MASTER', masterName]);
          if (Number(fieldOf(reply, 'num-other-sentinels')) !== sentinels.length - 1) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'the sentinels did not discover each other' },
    );
    const masterPort = async (): Promise<number> => {
      const reply = await commandAt<[string, string]>(sentinels[0]?.port ?? 0, [
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        masterName,
      ]);
      return Number(reply[1]);
    };
    return {
      masterName,
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
      master,
      replicas,
      sentinels,
      masterPort,
      async waitForFailover(oldPort, timeoutMs = 30_000) {
        try {
          return await waitFor(
            async () => {
              const port = await masterPort();
              if (port === oldPort) return 0;
              return (await infoAt(port, 'replication')).role === 'master' ? port : 0;
            },
            { timeoutMs, intervalMs: 100, message: 'the sentinels did not promote a replica' },
          );
        } catch (e) {
          throw new Error(
            `${e instanceof Error ? e.message : String(e)}\n${await sentinelState(sentinels, masterName, [master, ...replicas])}`,
            { cause: e },
          );
        }
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Cluster

export interface ClusterOptions {
  /** Default 3. */
  readonly masters?: number;
  /** Default 2000. */
  readonly nodeTimeoutMs?: number;
}

export interface RedisClusterSetup {
  /** redis+cluster://127.0.0.1:<first node port> */
  readonly url: string;
  readonly nodes: readonly RedisServerHandle[];
  /** MOVED replies the nodes have sent so far (commands that reached a node not owning their key). */
  movedReplies(): Promise<number>;
  /** Kills every node and removes the temp dirs. */
  stop(): Promise<void>;
}

const SLOTS = 16384;

/** Waits until every node reports cluster_state:ok, knows all of `nodes` and every slot's owner. */
async function waitForClusterOk(
  nodes: readonly RedisServerHandle[],
  message: string,
): Promise<void> {
  await waitFor(
    async () => {
      for (const n of nodes) {
        const info = parseInfo(String(await commandAt(n.port, ['CLUSTER', 'INFO'])));
        if (
          info.cluster_state !== 'ok' ||
          Number(info.cluster_known_nodes) !== nodes.length ||
          Number(info.cluster_slots_ok) !== SLOTS
        )
          return false;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100, message },
  );
}

/**
 * A cluster of `masters` nodes without replicas, the 16384 slots split evenly. Built
 * with CLUSTER ADDSLOTSRANGE and CLUSTER MEET, which is what `redis-cli --cluster create`
 * does, minus its fixed one-second waits. Resolves once every node reports
 * cluster_state:ok and knows every slot's owner.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<RedisClusterSetup> {
  const count = options.masters ?? 3;
  const nodes: RedisServerHandle[] = [];
  const nodeDirs: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.kill()));
    for (const dir of nodeDirs) removeDir(dir);
  };
  try {
    const started = await Promise.all(
      Array.from({ length: count }, () => {
        const dir = tempDir('cluster');
        nodeDirs.push(dir);
        return startRedisServer({
          dir,
          appendonly: false,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(dir, 'nodes.conf'),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 2000),
          ],
        });
      }),
    );
    nodes.push(...started);
    const per = Math.ceil(SLOTS / count);
    await Promise.all(
      nodes.map((n, i) =>
        commandAt(n.port, [
          'CLUSTER',
          'ADDSLOTSRANGE',
          String(i * per),
          String(Math.min(SLOTS, (i + 1) * per) - 1),
        ]),
      ),
    );
    const first = nodes[0] as RedisServerHandle;
    for (const n of nodes.slice(1)) {
      await commandAt(first.port, ['CLUSTER', 'MEET', '127.0.0.1', String(n.port)]);
    }
    await waitForClusterOk(nodes, 'the cluster did not reach cluster_state:ok');
    const movedReplies = async (): Promise<number> => {
      let total = 0;
      for (const n of nodes) {
        const line = (await infoAt(n.port, 'errorstats')).errorstat_MOVED ?? '';
        total += Number(/count=(\d+)/.exec(line)?.[1] ?? 0);
      }
      return total;
    };
    return { url: `redis+cluster://127.0.0.1:${first.port}`, nodes, movedReplies, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Faults

/** Password the primary demands once its replication links are cut (see cutReplicationLinks). */
const CUT_LINKS_PASSWORD = 'herald-cut-replication-links';

/**
 * Cuts the replication links of the primary at `port` for real: it starts demanding a
 * password (connections already open stay authenticated, so clients and sentinels keep
 * working) and drops its replica connections. The replicas try to reconnect and fail
 * authentication, so every write from now on exists only on this primary, and WAIT on it
 * blocks until its timeout. With `onlyReplicas` (their ports), only those replicas' links are
 * cut (each replica drops its link to the primary) and the others keep replicating; a later
 * call cuts the rest.
 */
export async function cutReplicationLinks(
  port: number,
  onlyReplicas?: readonly number[],
): Promise<void> {
  const connect = async (password?: string) => {
    const c = createClient({
      socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 2000 },
      password,
    });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  // One connection for all (it stays authenticated); after an earlier partial cut the primary
  // already demands the password.
  const client = await connect().catch(() => connect(CUT_LINKS_PASSWORD));
  try {
    await client.sendCommand(['CONFIG', 'SET', 'requirepass', CUT_LINKS_PASSWORD]);
    if (onlyReplicas === undefined) {
      await client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'replica']);
    } else {
      for (const replica of onlyReplicas) {
        await commandAt(replica, ['CLIENT', 'KILL', 'TYPE', 'master']);
      }
    }
  } finally {
    client.destroy();
  }
}

/** Waits until one of `replicas` reports itself a master (a Cluster failover promoted it). */
export async function waitForReplicaPromotion(
  replicas: readonly RedisServerHandle[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const roles = await Promise.all(
        replicas.map((r) => infoAt(r.port, 'replication').then((i) => i.role)),
      );
      return roles.includes('master');
    },
    { timeoutMs, intervalMs: 100, message: 'no replica was promoted' },
  );
}

/**
 * Starts `perMaster` replicas for each master of `cluster` and resolves once each is in sync
 * with its master. The caller kills them (they are not part of `cluster.stop()`).
 */
export async function startClusterReplicas(
  cluster: RedisClusterSetup,
  perMaster = 1,
): Promise<RedisServerHandle[]> {
  const masters = cluster.nodes;
  const first = masters[0] as RedisServerHandle;
  const replicas: RedisServerHandle[] = [];
  try {
    for (let i = 0; i < masters.length * perMaster; i++) {
      const dir = tempDir('cluster-replica');
      replicas.push(
        await startRedisServer({
          dir,
          appendonly: false,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(dir, 'nodes.conf'),
          ],
        }),
      );
    }
    for (const r of replicas) {
      await commandAt(first.port, ['CLUSTER', 'MEET', '127.0.0.1', String(r.port)]);
    }
    await Promise.all(
      replicas.map(async (r, i) => {
        const master = masters[i % masters.length] as RedisServerHandle;
        const masterId = String(await commandAt(master.port, ['CLUSTER', 'MYID']));
        // A replica can replicate a master only once it has learnt the master's node id.
        await waitFor(
          async () => {
            try {
              return (await commandAt(r.port, ['CLUSTER', 'REPLICATE', masterId])) === 'OK';
            } catch {
              return false;
            }
          },
          { timeoutMs: 30_000, intervalMs: 100, message: 'a cluster replica could not attach' },
        );
        await waitFor(
          async () => (await infoAt(r.port, 'replication')).master_link_status === 'up',
          { timeoutMs: 30_000, intervalMs: 100, message: 'a cluster replica did not sync' },
        );
      }),
    );
    // A replica answers a READONLY read only for slots it knows to be its master's, and learns
    // the slots by gossip, after the replication link is up: until then it answers MOVED. Every
    // node must also know every other, replicas included (a failover needs the masters' votes).
    await waitForClusterOk(
      [...masters, ...replicas],
      'the cluster with its replicas did not reach cluster_state:ok on every node',
    );
    return replicas;
  } catch (e) {
    await Promise.all(replicas.map((r) => r.kill()));
    throw e;
  }
}
