/**
 * Dead-peer detection for one Redis connection.
 *
 * A peer that vanishes without FIN or RST (a dead host behind a NAT, a load balancer or a cloud
 * network) leaves the socket open and silent: node-redis then waits for replies forever, a
 * blocking read never returns, and TCP keep-alive does not help (the middlebox answers the
 * probes, and its defaults take hours). node-redis's own `pingInterval` sends a PING but never
 * gives up on it, and its `socketTimeout` counts writes as activity, so a connection that keeps
 * being written to (publishes that time out, retried) is never judged idle.
 *
 * The watchdog therefore looks at replies: every command sent on the connection gets a deadline
 * (its own blocking time, if it blocks, plus the reply allowance), and a connection with nothing
 * to wait for sends a PING when it has been idle for a while, so a silent peer is noticed even
 * when the application sends nothing. When a deadline passes without a reply, the connection is
 * declared dead and `onDead` restarts it (drops the socket; node-redis then reconnects and
 * re-subscribes). Worst case from the peer falling silent to the drop: idle ping + allowance +
 * one tick, under `timeoutMs`.
 *
 * The clock is a tick counter advanced by one timer, so the hot path (every command) costs a
 * counter update and no `Date.now()`.
 */

/** Default bound on how long a silent peer goes unnoticed (Herald's `deadPeerTimeoutMs`). */
export const DEFAULT_DEAD_PEER_TIMEOUT_MS = 15_000;

/** Share of the bound a reply may take beyond the command's own blocking time. */
const REPLY_ALLOWANCE_SHARE = 1 / 2;
/** Share of the bound a connection may stay idle before it sends a health PING. */
const IDLE_PING_SHARE = 1 / 3;
/** Ticks per bound: the granularity of the clock. */
const TICKS_PER_BOUND = 10;
const MIN_TICK_MS = 20;

export interface DeadPeerWatchdogOptions {
  /** The bound: a silent peer is dropped within this many ms. */
  readonly timeoutMs: number;
  /** Sends a PING on the connection (its reply comes back through `track`). */
  readonly ping: () => void;
  /**
   * True when every reply comes back in the order its command was sent (one socket: standalone,
   * Sentinel); false for a Cluster client, whose commands go to several nodes.
   */
  readonly ordered: boolean;
  /** The connection is dead: drop and reopen it. `silentMs`: how long the oldest reply is overdue by. */
  readonly onDead: (silentMs: number) => void;
}

export class DeadPeerWatchdog {
  private readonly tickMs: number;
  private readonly allowanceTicks: number;
  private readonly idleTicks: number;
  private readonly timer: NodeJS.Timeout;
  private tick = 0;
  /** Replies awaited, counted by the tick at which their deadline passes. */
  private readonly pending = new Map<number, number>();
  private outstanding = 0;
  /** The latest tick at which a blocking command sent so far may still be blocked in Redis. */
  private blockedUntil = 0;
  private lastSendTick = 0;
  /** The last non-blocking command sent in this turn of the event loop (ordered connections). */
  private batchLast: Promise<unknown> | undefined;
  /** Bumped when the connection restarts: replies to commands of an earlier socket are not counted. */
  private generation = 0;

  constructor(private readonly options: DeadPeerWatchdogOptions) {
    this.tickMs = Math.max(MIN_TICK_MS, Math.floor(options.timeoutMs / TICKS_PER_BOUND));
    this.allowanceTicks = Math.max(
      1,
      Math.floor((options.timeoutMs * REPLY_ALLOWANCE_SHARE) / this.tickMs),
    );
    this.idleTicks = Math.max(1, Math.floor((options.timeoutMs * IDLE_PING_SHARE) / this.tickMs));
    this.timer = setInterval(() => this.onTick(), this.tickMs);
    this.timer.unref();
  }

  /**
   * Watches the reply to one command. `blockMs`: how long the command may block in Redis by
   * design (BLOCK, a list-move timeout, WAIT), Infinity when it may block forever.
   */
  track(reply: Promise<unknown>, blockMs: number): void {
    this.lastSendTick = this.tick;
    if (blockMs === Infinity) return; // blocks forever by design: nothing to hold it to
    if (blockMs === 0 && this.options.ordered) {
      // Replies on one socket come in order: the last command sent in this turn of the event
      // loop is answered last, so watching it alone watches the whole batch (one hook per batch
      // instead of one per command on the publishing hot path).
      if (this.batchLast === undefined) queueMicrotask(this.watchBatch);
      this.batchLast = reply;
      return;
    }
    this.watch(reply, blockMs);
  }

  private readonly watchBatch = (): void => {
    const last = this.batchLast;
    this.batchLast = undefined;
    if (last !== undefined) this.watch(last, 0);
  };

  private watch(reply: Promise<unknown>, blockMs: number): void {
    // A command queued behind a blocking one waits for it.
    const start = Math.max(this.tick, this.blockedUntil);
    const until = start + Math.ceil(blockMs / this.tickMs);
    if (blockMs > 0) this.blockedUntil = until;
    const deadline = until + this.allowanceTicks;
    this.pending.set(deadline, (this.pending.get(deadline) ?? 0) + 1);
    this.outstanding++;
    const generation = this.generation;
    const settled = (): void => {
      if (generation !== this.generation) return;
      // The latest blocking command answered: what is sent next no longer waits behind it.
      if (blockMs > 0 && this.blockedUntil === until) this.blockedUntil = this.tick;
      this.outstanding--;
      // A count that falls to 0 stays until its deadline has passed (onTick removes it): a Map
      // that keeps emptying and filling again reallocates its table each time.
      this.pending.set(deadline, (this.pending.get(deadline) ?? 1) - 1);
    };
    reply.then(settled, settled);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private onTick(): void {
    this.tick++;
    let overdue = -1;
    for (const [deadline, count] of this.pending) {
      if (deadline >= this.tick) continue;
      if (count === 0) this.pending.delete(deadline);
      else overdue = Math.max(overdue, this.tick - deadline);
    }
    if (this.outstanding === 0) {
      if (this.tick - this.lastSendTick >= this.idleTicks) this.options.ping();
      return;
    }
    if (overdue < 0) return;
    this.generation++;
    this.pending.clear();
    this.outstanding = 0;
    this.blockedUntil = 0;
    this.lastSendTick = this.tick;
    this.options.onDead(this.allowanceTicks * this.tickMs + overdue * this.tickMs);
  }
}

/**
 * How long a command may block in Redis by design, from its own arguments: XREAD[GROUP] BLOCK
 * ms, BLMOVE/BRPOPLPUSH/BLPOP/BRPOP/BZPOP*… timeout in seconds (last argument), WAIT/WAITAOF
 * timeout in ms. 0 for a command that does not block, Infinity for one that blocks forever.
 */
export function blockingMsOf(args: readonly string[]): number {
  const name = args[0];
  if (name === undefined) return 0;
  // The hot path (XADD, XACK, EVALSHA, …) returns after two character checks.
  const first = name.charCodeAt(0) | 0x20; // lower-case ASCII
  if (first === 0x78 /* x */) {
    if ((name.charCodeAt(1) | 0x20) !== 0x72 /* r: XREAD, XREADGROUP */) return 0;
  } else if (first !== 0x62 /* b */ && first !== 0x77 /* w */) return 0;
  const upper = name.toUpperCase();
  switch (upper) {
    case 'XREAD':
    case 'XREADGROUP': {
      const at = args.findIndex((a) => a.toUpperCase() === 'BLOCK');
      return at < 0 ? 0 : foreverIfZero(Number(args[at + 1]));
    }
    case 'WAIT':
      return foreverIfZero(Number(args[2]));
    case 'WAITAOF':
      return foreverIfZero(Number(args[3]));
    case 'BLMOVE':
    case 'BRPOPLPUSH':
    case 'BLPOP':
    case 'BRPOP':
    case 'BZPOPMIN':
    case 'BZPOPMAX':
      return foreverIfZero(Number(args[args.length - 1]) * 1000);
    case 'BLMPOP':
    case 'BZMPOP':
      return foreverIfZero(Number(args[1]) * 1000);
    default:
      return 0;
  }
}

function foreverIfZero(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return ms === 0 ? Infinity : ms;
}
