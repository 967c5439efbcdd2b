/**
 * The highly available Redis topologies of `herald dev --ha` / `--cluster` and the HA tests,
 * on loopback, from real processes:
 *
 * - HA: 1 primary and 2 replicas (AOF on), 3 sentinels (quorum 2), and HAProxy routing to
 *   whichever node reports `role:master`. Two front doors: HAProxy's plain `redis://` URL,
 *   and the sentinels' `redis+sentinel://` URL.
 * - Cluster: 3 primaries and 3 replicas (one each), the Cluster tests' startCluster plus
 *   replicas attached with CLUSTER REPLICATE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '../embedded/redis-server.ts';
import { startHaproxy, type HaproxyHandle } from '../embedded/haproxy.ts';
import { waitFor } from './redis.ts';
import {
  commandAt,
  infoAt,
  startCluster,
  startSentinelSetup,
  type RedisClusterSetup,
  type SentinelSetup,
} from './topology.ts';

/** Sentinel settings of `herald dev --ha`: a dead primary is replaced within a few seconds. */
export const HA_DEFAULTS = {
  replicas: 2,
  sentinels: 3,
  quorum: 2,
  downAfterMs: 1000,
  failoverTimeoutMs: 5000,
  checkIntervalMs: 200,
} as const;

export interface HaRedisOptions {
  /** Default HA_DEFAULTS.downAfterMs. */
  readonly downAfterMs?: number;
  /** Default HA_DEFAULTS.failoverTimeoutMs. */
  readonly failoverTimeoutMs?: number;
  /** HAProxy's check interval. Default HA_DEFAULTS.checkIntervalMs. */
  readonly checkIntervalMs?: number;
  /** HAProxy's port; 0 or undefined picks a free one. */
  readonly haproxyPort?: number;
}

export interface HaRedis {
  /** The Sentinel setup: primary, replicas, sentinels (`sentinel.url` is the Sentinel front door). */
  readonly sentinel: SentinelSetup;
  readonly haproxy: HaproxyHandle;
  /** HAProxy's front door: redis://127.0.0.1:<port> */
  readonly haproxyUrl: string;
  /** The sentinels' front door: redis+sentinel://127.0.0.1:<p1>,…/mymaster */
  readonly sentinelUrl: string;
  /** Every Redis node, the primary first. */
  readonly nodes: readonly RedisServerHandle[];
  /** The port of the node HAProxy forwards to now (asks through HAProxy). */
  haproxyTargetPort(): Promise<number>;
  /** Ports of the nodes HAProxy counts as up (its checks found role:master). */
  haproxyUpPorts(): Promise<number[]>;
  stop(): Promise<void>;
}

/** 1 primary + 2 replicas with AOF, 3 sentinels, and HAProxy in front. */
export async function startHaRedis(options: HaRedisOptions = {}): Promise<HaRedis> {
  const sentinel = await startSentinelSetup({
    replicas: HA_DEFAULTS.replicas,
    sentinels: HA_DEFAULTS.sentinels,
    quorum: HA_DEFAULTS.quorum,
    appendonly: true,
    downAfterMs: options.downAfterMs ?? HA_DEFAULTS.downAfterMs,
    failoverTimeoutMs: options.failoverTimeoutMs ?? HA_DEFAULTS.failoverTimeoutMs,
  });
  const nodes = [sentinel.master, ...sentinel.replicas];
  let haproxy: HaproxyHandle;
  try {
    haproxy = await startHaproxy({
      servers: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      checkIntervalMs: options.checkIntervalMs ?? HA_DEFAULTS.checkIntervalMs,
      ...(options.haproxyPort !== undefined ? { port: options.haproxyPort } : {}),
    });
  } catch (e) {
    await sentinel.stop();
    throw e;
  }
  const haproxyTargetPort = async (): Promise<number> =>
    Number((await infoAt(haproxy.port, 'server')).tcp_port);
  const haproxyUpPorts = async (): Promise<number[]> =>
    (await haproxy.servers())
      .filter((s) => s.status === 'UP')
      .map((s) => Number(s.address.split(':').at(-1)));
  try {
    await waitFor(async () => (await haproxyUpPorts()).join() === String(sentinel.master.port), {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: 'haproxy did not route to the primary',
    });
  } catch (e) {
    await haproxy.stop();
    await sentinel.stop();
    throw e;
  }
  return {
    sentinel,
    haproxy,
    haproxyUrl: haproxy.url,
    sentinelUrl: sentinel.url,
    nodes,
    haproxyTargetPort,
    haproxyUpPorts,
    async stop() {
      await haproxy.stop();
      await sentinel.stop();
    },
  };
}

export interface ReplicatedCluster {
  /** redis+cluster://127.0.0.1:<first primary> */
  readonly url: string;
  readonly cluster: RedisClusterSetup;
  readonly primaries: readonly RedisServerHandle[];
  readonly replicas: readonly RedisServerHandle[];
  stop(): Promise<void>;
}

/** Attaches one new node as a replica of `master` and resolves once it is in sync. */
async function attachReplica(
  first: RedisServerHandle,
  master: RedisServerHandle,
  dirs: string[],
  nodeTimeoutMs: number,
): Promise<RedisServerHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-cluster-replica-'));
  dirs.push(dir);
  const replica = await startRedisServer({
    dir,
    appendonly: false,
    extraArgs: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
    ],
  });
  try {
    await commandAt(first.port, ['CLUSTER', 'MEET', '127.0.0.1', String(replica.port)]);
    const masterId = String(await commandAt(master.port, ['CLUSTER', 'MYID']));
    // A node can replicate a master only once gossip has told it the master's id.
    await waitFor(
      async () => {
        try {
          return (await commandAt(replica.port, ['CLUSTER', 'REPLICATE', masterId])) === 'OK';
        } catch {
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, message: 'a cluster replica could not attach' },
    );
    await waitFor(
      async () => (await infoAt(replica.port, 'replication')).master_link_status === 'up',
      { timeoutMs: 30_000, intervalMs: 100, message: 'a cluster replica did not sync' },
    );
    return replica;
  } catch (e) {
    await replica.kill();
    throw e;
  }
}

/** Cluster node timeout of `herald dev --cluster`: a dead primary's replica takes over after it. */
export const CLUSTER_NODE_TIMEOUT_MS = 2000;

/** 3 primaries (the slots split evenly) and one replica each. */
export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const cluster = await startCluster({ masters: 3, nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS });
  const replicas: RedisServerHandle[] = [];
  const dirs: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(replicas.map((r) => r.kill()));
    await cluster.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const first = cluster.nodes[0] as RedisServerHandle;
    for (const master of cluster.nodes) {
      replicas.push(await attachReplica(first, master, dirs, CLUSTER_NODE_TIMEOUT_MS));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: cluster.url, cluster, primaries: cluster.nodes, replicas, stop };
}
