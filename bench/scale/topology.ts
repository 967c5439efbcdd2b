/**
 * The scale benchmark's Redis: one standalone redis-server ("1 shard") or a Redis Cluster of
 * N primaries ("N shards"), each a redis-server process of its own started through Herald's
 * public `startRedisServer`, the cluster joined with CLUSTER ADDSLOTSRANGE and CLUSTER MEET
 * (what `redis-cli --cluster create` does). Also reads each node's CPU time (INFO cpu) and
 * which node owns a key's slot.
 */
import path from 'node:path';
import { createClient } from 'redis';
import { startRedisServer, type RedisServerHandle } from '../../src/index.ts';

const SLOTS = 16384;
const CLUSTER_READY_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const NODE_TIMEOUT_MS = '5000';

/** Sends one command to the node at `port` on a short-lived connection. */
export async function commandAt<T>(port: number, args: string[]): Promise<T> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 5000 },
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand<T>(args);
  } finally {
    client.destroy();
  }
}

function infoField(text: string, field: string): number {
  const m = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

/** CPU seconds the node has used so far (user + system, all its threads). */
export async function redisCpuSeconds(port: number): Promise<number> {
  const text = await commandAt<string>(port, ['INFO', 'cpu']);
  return infoField(text, 'used_cpu_user') + infoField(text, 'used_cpu_sys');
}

export interface ScaleTopology {
  /** redis://… or redis+cluster://… for Herald. */
  readonly url: string;
  readonly shards: number;
  readonly nodes: readonly RedisServerHandle[];
  /** The index (into `nodes`) of the node owning `key`'s slot. */
  shardOf(key: string): Promise<number>;
  stop(): Promise<void>;
}

/** Slot ranges as startCluster assigns them: node i owns [i * per, (i + 1) * per). */
function slotsPerNode(shards: number): number {
  return Math.ceil(SLOTS / shards);
}

/** Every node of the cluster reports cluster_state:ok and knows every node. */
async function waitClusterReady(nodes: readonly RedisServerHandle[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  for (;;) {
    let ready = true;
    for (const n of nodes) {
      const info = await commandAt<string>(n.port, ['CLUSTER', 'INFO']);
      if (
        !/cluster_state:ok/.test(info) ||
        infoField(info, 'cluster_known_nodes') !== nodes.length ||
        infoField(info, 'cluster_slots_ok') !== SLOTS
      )
        ready = false;
    }
    if (ready) return;
    if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Starts `shards` primaries: a standalone redis-server for 1, a cluster for more. AOF on with
 * fsync every second (Herald's recommended setting), in `dir`.
 */
export async function startScaleTopology(dir: string, shards: number): Promise<ScaleTopology> {
  if (shards === 1) {
    const node = await startRedisServer({ dir: path.join(dir, 'standalone') });
    return {
      url: node.url,
      shards,
      nodes: [node],
      shardOf: () => Promise.resolve(0),
      stop: () => node.stop(),
    };
  }
  const nodes: RedisServerHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < shards; i++) {
      const nodeDir = path.join(dir, `node-${i}`);
      nodes.push(
        await startRedisServer({
          dir: nodeDir,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(nodeDir, 'nodes.conf'),
            '--cluster-node-timeout',
            NODE_TIMEOUT_MS,
          ],
        }),
      );
    }
    const per = slotsPerNode(shards);
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
    const [first, ...others] = nodes;
    if (first === undefined) throw new Error('no cluster node started');
    for (const n of others)
      await commandAt(first.port, ['CLUSTER', 'MEET', '127.0.0.1', String(n.port)]);
    await waitClusterReady(nodes);
    return {
      url: `redis+cluster://127.0.0.1:${first.port}`,
      shards,
      nodes,
      shardOf: async (key) =>
        Math.floor((await commandAt<number>(first.port, ['CLUSTER', 'KEYSLOT', key])) / per),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
