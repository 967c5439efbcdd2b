/**
 * `herald dev --ha` and `herald dev --cluster`: throwaway highly available topologies on
 * loopback (src/test-support/ha.ts), for trying failovers by hand. They run until Ctrl-C, then
 * every process is killed and the temp dirs removed.
 */
import type { RedisServerHandle } from '../../embedded/redis-server.ts';
import { startHaRedis, startReplicatedCluster, HA_DEFAULTS } from '../../test-support/ha.ts';
import { commandAt } from '../../test-support/topology.ts';

export interface DevTopologyOptions {
  /** HAProxy's port (--ha); 0 picks a free one. */
  readonly port: number;
  readonly maxmemory?: string | undefined;
}

/** maxmemory on every node, with noeviction (the nodes already run noeviction). */
async function applyMaxmemory(
  nodes: readonly RedisServerHandle[],
  maxmemory: string | undefined,
): Promise<void> {
  if (maxmemory === undefined) return;
  await Promise.all(nodes.map((n) => commandAt(n.port, ['CONFIG', 'SET', 'maxmemory', maxmemory])));
}

/** Keeps the process alive until SIGINT/SIGTERM, then runs `stop` and exits. */
function runUntilSignal(stop: () => Promise<void>): void {
  // The child processes do not hold the event loop open; this does, until we exit.
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // The test topologies' own handler raises the signal once more after killing its sentinels.
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nReceived ${signal}, stopping...\n`);
    void stop().then(
      () => {
        clearInterval(keepAlive);
        process.stderr.write('Stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(
          `herald: failed to stop: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function ports(nodes: readonly RedisServerHandle[]): string {
  return nodes.map((n) => n.port).join(', ');
}

export async function runDevHa(opts: DevTopologyOptions): Promise<void> {
  const ha = await startHaRedis({ haproxyPort: opts.port });
  await applyMaxmemory(ha.nodes, opts.maxmemory);
  const [primary, ...replicas] = ha.nodes;
  console.log(
    [
      `Herald dev HA Redis ready: 1 primary + ${replicas.length} replicas (AOF on), ` +
        `${ha.sentinel.sentinels.length} sentinels (quorum ${HA_DEFAULTS.quorum}), HAProxy.`,
      `  ${ha.haproxyUrl}   (HAProxy: always the current primary)`,
      `  ${ha.sentinelUrl}   (Sentinel-aware clients)`,
      `Primary on port ${primary?.port ?? '?'}, replicas on ${ports(replicas)}; ` +
        `sentinels on ${ha.sentinel.sentinels.map((s) => s.port).join(', ')}.`,
      `Try a failover: kill -9 ${primary?.pid ?? '?'} (the primary). ` +
        'Data lives in temp dirs, removed on exit. Press Ctrl-C to stop.',
    ].join('\n'),
  );
  runUntilSignal(() => ha.stop());
}

export async function runDevCluster(opts: DevTopologyOptions): Promise<void> {
  const cluster = await startReplicatedCluster();
  await applyMaxmemory([...cluster.primaries, ...cluster.replicas], opts.maxmemory);
  console.log(
    [
      `Herald dev Redis Cluster ready: ${cluster.primaries.length} primaries, ` +
        `${cluster.replicas.length} replicas.`,
      `  ${cluster.url}`,
      `Primaries on ports ${ports(cluster.primaries)}; replicas on ${ports(cluster.replicas)}.`,
      'Data lives in temp dirs, removed on exit. Press Ctrl-C to stop.',
    ].join('\n'),
  );
  runUntilSignal(() => cluster.stop());
}
