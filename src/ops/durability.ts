/**
 * Replicated durability: a publish whose durability is `replicated` resolves
 * only once `replicas` replicas confirmed it (Redis WAIT), else rejects with a
 * DurabilityError whose outcome is unknown.
 *
 * WAIT counts the writes of the connection it runs on, and blocks that
 * connection while it waits, so replicated publishes are written on a
 * dedicated connection of their own. A connection runs its commands in order,
 * so a WAIT covers every write sent before it on that connection. WAITs are
 * batched: while one is blocked, the publishes that finish writing meanwhile
 * share the next one, so with a replica down N concurrent publishes take about
 * two timeouts, not N.
 *
 * A WAIT confirms only the writes of the server connection it ran on, and the client may run
 * it elsewhere: it reconnects by itself, and the Sentinel client re-sends a command whose
 * connection died to the new master, where a connection that wrote nothing gets the replica
 * count at once. So the server connection is named (IdentifiedWrites) before the writes and
 * after the WAIT, and a publish is confirmed only when both name the same one; otherwise it
 * fails with a DurabilityError (outcome unknown), never OK.
 */
import { errorMessage } from '../core/error-text.ts';
import type { Durability, PublishOptions } from '../core/contract.ts';
import { ConfigError, DurabilityError } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisBackend } from '../redis/backend.ts';
import {
  firstKeyOf,
  withDeadline,
  type Args,
  type RedisConnection,
  type SendOptions,
} from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';
import { parseInfo } from './inspect.ts';

/** Default WAIT timeout when a replicated durability gives none. */
export const DEFAULT_REPLICATION_TIMEOUT_MS = 1000;
/** How much longer than its own timeout a WAIT's reply may take before it counts as lost. */
const WAIT_REPLY_MARGIN_MS = 5000;
/** Reply timeout of the identifying commands sent before writes that carry no timeout. */
const DEFAULT_PROBE_TIMEOUT_MS = 5000;

/** The durability that applies to a publish: the publish's own, else the topic's. */
export function durabilityOf(
  topic: Topic<unknown>,
  options: PublishOptions | undefined,
): Durability {
  return options?.durability ?? topic.durability;
}

function checked(
  topic: Topic<unknown>,
  d: Durability & { mode: 'replicated' },
): { replicas: number; timeoutMs: number } {
  const timeoutMs = d.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS;
  if (!Number.isInteger(d.replicas) || d.replicas < 1) {
    throw new ConfigError(
      `publish to '${topic.name}': replicated durability needs replicas ≥ 1, got ${d.replicas}`,
    );
  }
  // WAIT with timeout 0 blocks forever: never what a publisher wants.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError(
      `publish to '${topic.name}': replicated durability needs timeoutMs ≥ 1, got ${timeoutMs}`,
    );
  }
  return { replicas: d.replicas, timeoutMs };
}

/**
 * Which server connection ran a command: the server process (run_id, new at every start),
 * its place in replication (role and replication id, which change on promotion or
 * demotion) and the connection on that server (CLIENT ID, never reused by a process).
 * Two equal identities are the same connection to the same master, never another one.
 */
type ServerConnection = string;

/** The commands that name the server connection they run on (ServerConnection). */
const IDENTIFY: readonly Args[] = [
  ['CLIENT', 'ID'],
  ['INFO', 'server'],
  ['INFO', 'replication'],
];

/**
 * Sends the identifying commands now (in order with whatever is sent next on `conn`, on
 * the node that owns `key` in a cluster); resolves to the server connection they ran on.
 */
function identify(
  conn: RedisConnection,
  key: string | undefined,
  options: SendOptions,
): Promise<ServerConnection> {
  const replies = IDENTIFY.map((args) => conn.send<unknown>(args, { ...options, key }));
  return Promise.all(replies).then(([id, server, replication]) => {
    const s = parseInfo(String(server));
    const r = parseInfo(String(replication));
    return `server ${s.run_id ?? '?'} (${r.role ?? '?'}, replication id ${r.master_replid ?? '?'}), connection ${String(id)}`;
  });
}

/** The position a write reply names: XADD's id, or the dedupe script's [added, position]. */
function positionOf(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  if (Array.isArray(reply) && reply.length === 2) return String(reply[1]);
  return undefined;
}

/** Writes remembered until their publish is confirmed; beyond this many the oldest are forgotten (and refused). */
const MAX_TRACKED_WRITES = 100_000;

/**
 * The dedicated connection, seen by the publisher. It names the server connection each write
 * ran on, or rather the one it cannot have run before: the server connection of the last
 * identification (IDENTIFY) that had completed when the write was sent, or, when none had, of
 * one sent just before the write. Connections follow one another and are never reused, and a
 * write sent after a command ran on connection X runs on X or a later one. The WAIT is
 * followed by an identification too: when it names the write's connection, the write and the
 * WAIT ran between two commands of that one server connection, hence on it. After a reconnect
 * the first publishes may be refused (outcome unknown) until an identification on the new
 * connection has completed; never confirmed wrongly.
 */
class IdentifiedWrites implements RedisConnection {
  /** Identifications sent in the current synchronous run of sends, by route. */
  private readonly probes = new Map<string, Promise<ServerConnection>>();
  /** The last identification completed, by route (the node in a cluster, else ''). */
  private readonly known = new Map<string, ServerConnection>();
  private readonly written = new Map<string, Promise<ServerConnection>>();

  constructor(private readonly inner: RedisConnection) {
    // Only spares refusals: a write after a reconnect would be refused on the older identity.
    inner.on('error', () => this.known.clear());
    inner.on('reconnecting', () => this.known.clear());
  }

  get kind(): RedisConnection['kind'] {
    return this.inner.kind;
  }

  get deadPeerTimeoutMs(): number {
    return this.inner.deadPeerTimeoutMs;
  }

  get raw(): unknown {
    return this.inner.raw;
  }

  /** Never: each write is matched to its server connection by its own reply (a position). */
  readonly transactional = false;

  noTransactions(): void {}

  private routeOf(key: string | undefined): string {
    return this.inner.kind === 'cluster' ? (key ?? '') : '';
  }

  /**
   * Sends IDENTIFY now, in order with whatever is sent next (on the node owning `key` in a
   * cluster); resolves to the server connection it ran on, remembered for later writes.
   */
  identify(key: string | undefined, options: SendOptions): Promise<ServerConnection> {
    const route = this.routeOf(key);
    const probe = identify(this.inner, key, options);
    probe.then(
      (id) => this.known.set(route, id),
      () => undefined, // reported by whoever awaits it
    );
    return probe;
  }

  send<T = unknown>(args: Args, options?: SendOptions): Promise<T> {
    const key = options?.key ?? firstKeyOf(args);
    const route = this.routeOf(key);
    const known = this.known.get(route);
    let before: Promise<ServerConnection>;
    if (known !== undefined) before = Promise.resolve(known);
    else {
      let probe = this.probes.get(route);
      if (!probe) {
        probe = this.identify(key, { timeoutMs: options?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS });
        if (this.probes.size === 0) queueMicrotask(() => this.probes.clear());
        this.probes.set(route, probe);
      }
      before = probe;
    }
    return this.inner.send<T>(args, options).then((reply) => {
      const position = positionOf(reply);
      if (key !== undefined && position !== undefined) this.remember(key, position, before);
      return reply;
    });
  }

  private remember(stream: string, position: string, probe: Promise<ServerConnection>): void {
    if (this.written.size >= MAX_TRACKED_WRITES) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
    this.written.set(`${stream}\n${position}`, probe);
  }

  /** The server connection that wrote `position` of `stream` (forgotten once asked). */
  take(stream: string, position: string): Promise<ServerConnection> | undefined {
    const k = `${stream}\n${position}`;
    const probe = this.written.get(k);
    this.written.delete(k);
    return probe;
  }

  async pipeline(commands: readonly Args[], options?: SendOptions): Promise<unknown[]> {
    const settled = await Promise.allSettled(
      commands.map((c) =>
        this.send(
          c,
          this.kind === 'cluster' ? { ...options, key: firstKeyOf(c) ?? options?.key } : options,
        ),
      ),
    );
    return settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as unknown)));
  }

  duplicate(): Promise<RedisConnection> {
    return this.inner.duplicate();
  }

  on(event: 'error' | 'reconnecting' | 'ready', listener: (e?: unknown) => void): void {
    this.inner.on(event, listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/** What one WAIT reported, and the server connection it ran on. */
interface WaitOutcome {
  readonly acknowledged: number;
  readonly ranOn: ServerConnection;
}

/** Where a WAIT outcome is filed: by the server connection written on and the stream key. */
function outcomeKey(wroteOn: ServerConnection, stream: string | undefined): string {
  return `${wroteOn}\n${stream ?? ''}`;
}

interface Batch {
  replicas: number;
  timeoutMs: number;
  /**
   * The stream keys written, grouped by the server connection they were written on (in a
   * cluster; a single group under '' with no key otherwise): one WAIT per group.
   */
  readonly groups: Map<ServerConnection, Set<string | undefined>>;
  /** By outcomeKey(group, stream key). */
  result?: Promise<Map<string, WaitOutcome>>;
}

/** Issues WAITs on one connection, one at a time, each shared by every publish that joined it. */
class WaitBatcher {
  private tail: Promise<unknown> = Promise.resolve();
  private open: Batch | undefined;

  constructor(private readonly conn: IdentifiedWrites) {}

  /**
   * Resolves to the number of replicas that acknowledged every write sent so far on the
   * connection, and the server connection the WAIT ran on, by outcomeKey(group, stream key):
   * `writes` lists [server connection written on, stream key] ('' and undefined outside a cluster).
   */
  wait(
    replicas: number,
    timeoutMs: number,
    writes: readonly (readonly [ServerConnection, string | undefined])[],
  ): Promise<Map<string, WaitOutcome>> {
    let batch = this.open;
    if (!batch) {
      const b: Batch = { replicas: 0, timeoutMs: 0, groups: new Map() };
      this.open = batch = b;
      b.result = this.tail.then(() => {
        // From here on, a publish that finishes writing joins the next batch (its write follows this WAIT).
        if (this.open === b) this.open = undefined;
        return this.send(b);
      });
      this.tail = b.result.catch(() => undefined);
    }
    batch.replicas = Math.max(batch.replicas, replicas);
    batch.timeoutMs = Math.max(batch.timeoutMs, timeoutMs);
    for (const [wroteOn, stream] of writes) {
      let keys = batch.groups.get(wroteOn);
      if (!keys) batch.groups.set(wroteOn, (keys = new Set()));
      keys.add(stream);
    }
    return batch.result as Promise<Map<string, WaitOutcome>>;
  }

  /**
   * In a cluster each partition may live on another node: one WAIT per node connection written
   * to, routed by one of its keys. One per partition instead would queue several WAITs on one
   * node connection, each blocking it up to its timeout when replicas are missing (a promoted
   * replica has none): together past their reply deadline, with the next writes stuck behind
   * them, for as long as publishing goes on.
   *
   * Right after the WAIT, each key of the group is identified on its own route: a write counts
   * as confirmed only when that identification names the WAIT's server connection too. So a write
   * whose route moved (MOVED during a failover or a reshard) is never confirmed by the WAIT of a
   * node it did not run on, and each key's remembered server connection is renewed.
   */
  private async send(b: Batch): Promise<Map<string, WaitOutcome>> {
    const args = ['WAIT', String(b.replicas), String(b.timeoutMs)];
    const replyTimeoutMs = b.timeoutMs + WAIT_REPLY_MARGIN_MS;
    // One deadline for the WAIT and the identifications instead of a timer each.
    const sendOpts = { timeoutMs: replyTimeoutMs, replyTimer: false };
    const outcomes = await Promise.all(
      [...b.groups].map(async ([group, keySet]) => {
        const keys = [...keySet];
        const [first] = keys;
        // Sent together: the identifications run right after the WAIT (on its connection when
        // their keys still route there).
        const count = this.conn.send<number>(args, { ...sendOpts, key: first });
        const ranOn = keys.map((key) => this.conn.identify(key, { ...sendOpts, key }));
        const [acknowledged, ids] = await withDeadline(
          Promise.all([count, Promise.all(ranOn)]),
          'WAIT',
          replyTimeoutMs,
        );
        const waitRanOn = ids[0] as ServerConnection;
        return keys.map((key, i) => {
          const id = ids[i] as ServerConnection;
          const outcome: WaitOutcome = {
            acknowledged: Number(acknowledged),
            ranOn: id === waitRanOn ? id : `${waitRanOn} (its partition's route now: ${id})`,
          };
          return [outcomeKey(group, key), outcome] as const;
        });
      }),
    );
    return new Map(outcomes.flat());
  }
}

export interface DurabilityHandle {
  /** Removes replicated durability from the backend and closes its dedicated connection. */
  stop(): Promise<void>;
}

/**
 * Makes the backend honour `durability: { mode: 'replicated' }` of topics and
 * publishes: written on a dedicated connection, then confirmed with WAIT.
 * Too few confirmations in time reject with a DurabilityError (acknowledged,
 * required): the events are on the primary, their fate is unknown.
 */
export async function enableDurability(
  backend: Pick<RedisBackend, 'conn' | 'prefix' | 'addHook' | 'hasHook'>,
): Promise<DurabilityHandle> {
  if (backend.hasHook('publishConnection'))
    throw new ConfigError('replicated durability is already enabled on this backend');
  const dedicated = new IdentifiedWrites(await backend.conn.duplicate());
  const batcher = new WaitBatcher(dedicated);

  const connectionFor = (
    topic: Topic<unknown>,
    options: PublishOptions | undefined,
  ): RedisConnection | undefined => {
    const d = durabilityOf(topic, options);
    if (d.mode !== 'replicated') return undefined;
    checked(topic, d); // throws before anything is written
    return dedicated;
  };

  const finisher = async (
    topic: Topic<unknown>,
    receipts: readonly PublishReceipt[],
    options: PublishOptions | undefined,
  ): Promise<void> => {
    const d = durabilityOf(topic, options);
    if (d.mode !== 'replicated' || receipts.length === 0) return;
    const { replicas, timeoutMs } = checked(topic, d);
    const writes = receipts.map((r) => {
      const stream = partitionKeys(backend.prefix, topic, r.partition).stream;
      return { stream, wroteOn: dedicated.take(stream, r.position) };
    });
    const unknown =
      `the event${receipts.length > 1 ? 's are' : ' is'} stored on the primary, but the outcome is unknown: ` +
      'delivered if the primary survives, lost if it fails before replicating (retry with the same ids, which are deduplicated)';
    const cannotConfirm = (why: string, cause?: unknown): DurabilityError =>
      new DurabilityError(
        `publish to '${topic.name}': could not confirm replication (${why}); ${unknown}`,
        { acknowledged: 0, required: replicas },
        cause === undefined ? undefined : { cause },
      );
    const cluster = dedicated.kind === 'cluster';
    let outcomes: Map<string, WaitOutcome>;
    let wroteOn: (ServerConnection | undefined)[];
    try {
      // The server connection of each write is known by the time its reply came (its
      // identification was sent before it): the WAITs are grouped by it, one per node connection.
      wroteOn = await Promise.all(writes.map((w) => w.wroteOn ?? Promise.resolve(undefined)));
      const known: [ServerConnection, string | undefined][] = [];
      for (const [i, w] of writes.entries()) {
        const wrote = wroteOn[i];
        if (wrote !== undefined) known.push(cluster ? [wrote, w.stream] : ['', undefined]);
      }
      outcomes =
        known.length === 0
          ? new Map<string, WaitOutcome>()
          : await batcher.wait(replicas, timeoutMs, known);
    } catch (e) {
      throw cannotConfirm(errorMessage(e), e);
    }
    let acknowledged = Number.POSITIVE_INFINITY;
    for (const [i, w] of writes.entries()) {
      const wrote = wroteOn[i];
      const wait =
        wrote === undefined
          ? undefined
          : outcomes.get(cluster ? outcomeKey(wrote, w.stream) : outcomeKey('', undefined));
      if (wait === undefined || wrote === undefined) {
        throw cannotConfirm('the connection that wrote the event is not known');
      }
      // A WAIT counts only the writes of its own server connection: after a reconnect or a
      // failover it would confirm writes it never saw (a new connection gets the replica count at once).
      if (wait.ranOn !== wrote) {
        throw cannotConfirm(
          `the write ran on ${wrote} but WAIT on ${wait.ranOn}: the connection was re-established or the master changed in between`,
        );
      }
      acknowledged = Math.min(acknowledged, wait.acknowledged);
    }
    if (acknowledged < replicas) {
      throw new DurabilityError(
        `publish to '${topic.name}': ${acknowledged} of ${replicas} replica${replicas > 1 ? 's' : ''} confirmed within ${timeoutMs} ms; ${unknown}`,
        { acknowledged, required: replicas },
      );
    }
  };

  const removers = [
    backend.addHook('publishConnection', connectionFor),
    backend.addHook('afterPublish', finisher),
  ];
  const handle = {
    async stop() {
      for (const remove of removers) remove();
      await dedicated.close();
    },
  };
  // Stopped by backend.close() too, so the dedicated connection never keeps the process alive.
  removers.push(backend.addHook('close', () => handle.stop()));
  return handle;
}
