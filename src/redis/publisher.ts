/**
 * Publishing to a topic's streams. The hot path is one XADD per event, all
 * events of a batch written in one round trip; an event with an explicit id
 * goes through the publish-dedupe script instead, which stores it at most once
 * per dedupe window.
 */
import type { PublishOptions } from '../core/contract.ts';
import { derivedId } from '../core/codec.ts';
import { HeraldError } from '../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { prepareEach, prepareEachNow, prepareEvents, type PreparedEvent } from '../core/prepare.ts';
import type { Topic } from '../core/topic.ts';
import { DropSignal, withDeadline, type RedisConnection, type SendOptions } from './connection.ts';
import { isPermissionRefusal, isRefusedDuringMigration } from './error-kinds.ts';
import { toHeraldError } from './errors.ts';
import { asPermissionError } from './permission.ts';
import { partitionKeys, type PartitionKeys } from './keys.ts';
import type { TopicRegistry } from './registry.ts';
import { loadScript, runScript } from './scripts.ts';

const publishDedupe = loadScript('publish-dedupe');

/** Checks run before anything is written (the capacity guard is one). Throw to refuse. */
export type PublishGuard = (topic: Topic<unknown>, count: number) => void;

/** Runs after the events were written, before publish resolves (replicated durability is one). */
export type PublishFinisher = (
  topic: Topic<unknown>,
  receipts: readonly PublishReceipt[],
  options: PublishOptions | undefined,
) => Promise<void>;

export interface PublisherDeps {
  readonly conn: RedisConnection;
  readonly prefix: string;
  readonly source: string;
  readonly registry: TopicRegistry;
  /** Live lists: hooks added later apply to later publishes. */
  readonly guards: readonly PublishGuard[];
  readonly finishers: readonly PublishFinisher[];
  readonly onPublished?: ((topic: string, count: number) => void) | undefined;
  readonly onError?: ((topic: string, error: HeraldError) => void) | undefined;
  /**
   * The connection to write on, when not the shared one. Replicated durability
   * needs its own connection: WAIT counts only the writes of the connection it runs on.
   */
  readonly connectionFor?:
    | ((topic: Topic<unknown>, options: PublishOptions | undefined) => RedisConnection | undefined)
    | undefined;
}

/**
 * The per-event objects of the publishing path are class instances, not object or array
 * literals: V8 may allocate a literal's objects straight in the old generation ("pretenuring")
 * after a minor GC found most of them alive, as happens to the events of a batch in flight, and
 * such objects keep every young object they point to alive through each later minor GC (slower
 * minor GCs for the rest of the process). Instances of a class are never pretenured.
 */
class Waiting {
  constructor(
    readonly event: OutgoingEvent<unknown>,
    readonly resolve: (receipt: PublishReceipt) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

class Receipt implements PublishReceipt {
  constructor(
    readonly id: string,
    readonly topic: string,
    readonly partition: number,
    readonly position: string,
    readonly duplicate: boolean,
  ) {}
}

/** The publish() calls of a tick for one topic and options. */
class TickCalls {
  constructor(
    readonly topic: Topic<unknown>,
    readonly options: PublishOptions | undefined,
    readonly list: Waiting[],
  ) {}
}

/**
 * `new Promise(captureSettlers)` leaves the promise's settling functions here, to be taken at
 * once: one shared executor instead of a closure per publish() call.
 */
let capturedResolve: (receipt: PublishReceipt) => void = () => {};
let capturedReject: (error: unknown) => void = () => {};
function captureSettlers(
  resolve: (receipt: PublishReceipt) => void,
  reject: (error: unknown) => void,
): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** A publish waits this long for its events to be stored, unless its options say otherwise. */
const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;

const XADD = ['XADD'] as const;

/** An outcome gathered by Promise.allSettled (replies themselves are strings and arrays). */
function isSettledResult(o: unknown): o is PromiseSettledResult<unknown> {
  return typeof o === 'object' && o !== null && 'status' in o && !Array.isArray(o);
}

function isError(o: unknown): o is Error {
  return o instanceof Error;
}

function isReceipt(o: unknown): o is PublishReceipt {
  return typeof o === 'object' && o !== null && 'position' in o && 'duplicate' in o;
}

/** A command refused by a Cluster without being run, gathered by Promise.allSettled (see retryRefused). */
function isRefusedUnrun(o: unknown): boolean {
  return isSettledResult(o) && o.status === 'rejected' && isRefusedDuringMigration(o.reason);
}

/**
 * Largest batch written as one MULTI/EXEC. A transaction wakes a blocked consumer once for the
 * whole batch instead of after its first XADD, which saves the consumer a read per batch: worth
 * it for the small batches of publish() calls coalesced in a tick. A large batch saves one read
 * in hundreds of events and costs Redis the queueing of every command (publishBatch of 500 ran
 * at about 0.6x the pipeline's rate in a transaction).
 */
const TRANSACTION_MAX_EVENTS = 64;

const MULTI = ['MULTI'] as const;
const EXEC = ['EXEC'] as const;

/** An event without an explicit id: a plain XADD (one with an id goes through the dedupe script). */
function isPlain(p: PreparedEvent): boolean {
  return p.id === undefined;
}

/** XADD of one field, copied for each event (a template, not an array literal: see Waiting). */
const XADD_ONE_FIELD: readonly string[] = ['XADD', '', '*', '', ''];

/** The XADD of a plain event. The usual envelope is one field (compact layout): no spread for it. */
function xaddArgs(stream: string, p: PreparedEvent): string[] {
  const f = p.fields;
  if (f.length !== 2) return ['XADD', stream, '*', ...f];
  const args = XADD_ONE_FIELD.slice();
  args[1] = stream;
  args[3] = f[0] as string;
  args[4] = f[1] as string;
  return args;
}

/**
 * The replies of a batch's commands, within one deadline for all of them. The usual outcome,
 * every command answered, costs one Promise.all; only when one failed are the outcomes gathered
 * one by one (`someFailed`: the replies are then PromiseSettledResults), so each event settles
 * with its own receipt or error.
 */
async function gather(
  pending: Promise<unknown>[],
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<{ replies: unknown[]; someFailed: boolean }> {
  let someFailed = false;
  const replies: unknown[] = await withDeadline(
    Promise.all(pending).catch(() => {
      someFailed = true;
      return Promise.allSettled(pending);
    }),
    'XADD',
    timeoutMs,
    onTimeout,
  );
  return { replies, someFailed };
}

/** A command's refusal held as a value (writeInTransaction): the promise holding it fulfils. */
class Refused {
  constructor(readonly reason: unknown) {}
}

function holdRefusal(reason: unknown): Refused {
  return new Refused(reason);
}

/** A held reply as the outcome Promise.allSettled would have given. */
function settledOf(reply: unknown): PromiseSettledResult<unknown> {
  return reply instanceof Refused
    ? { status: 'rejected', reason: reply.reason }
    : { status: 'fulfilled', value: reply };
}

/** First pause before sending again a command refused during a slot migration; doubled each time. */
const MIGRATION_RETRY_FIRST_MS = 10;
/** Longest pause between two sends of a command refused during a slot migration. */
const MIGRATION_RETRY_MAX_MS = 200;

/** An event ready to write (its partition's keys are looked up when it is written). */
type Prepared = PreparedEvent;

/** What a write did: a receipt or the error of each event, and whether all were stored. */
interface Written {
  readonly outcomes: unknown[];
  readonly allStored: boolean;
}

export class StreamPublisher {
  private readonly keyCache = new WeakMap<Topic<unknown>, PartitionKeys[]>();
  private readonly idPrefixCache = new WeakMap<Topic<unknown>, string[]>();
  /** publish() calls of the current tick for the topic and options its first call named. */
  private slot: TickCalls | undefined;
  /** publish() calls of the current tick for other topics and options, by topic and options. */
  private readonly coalescing = new Map<
    Topic<unknown>,
    Map<PublishOptions | undefined, Waiting[]>
  >();
  constructor(private readonly deps: PublisherDeps) {}

  /**
   * Publishes one event. Calls made in the same tick for the same topic and options share one
   * pipeline (many concurrent callers cost what one publishBatch costs), yet each call is
   * validated on its own and settles with its own receipt or error.
   */
  publish<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt> {
    const receipt = new Promise<PublishReceipt>(captureSettlers);
    this.waitingFor(topic, options).push(new Waiting(event, capturedResolve, capturedReject));
    return receipt;
  }

  /**
   * The calls of this tick for `topic` and `options`, flushed at its end. The usual tick has
   * calls for one topic and options: they go in a slot of their own, without a map entry made
   * and removed per tick; calls for others in the same tick are kept in `coalescing`.
   */
  private waitingFor(topic: Topic<unknown>, options: PublishOptions | undefined): Waiting[] {
    const slot = this.slot;
    if (slot !== undefined && slot.topic === topic && slot.options === options) return slot.list;
    if (slot === undefined) {
      const list: Waiting[] = [];
      this.slot = new TickCalls(topic, options, list);
      queueMicrotask(this.flushSlot);
      return list;
    }
    let byOptions = this.coalescing.get(topic);
    if (!byOptions) {
      byOptions = new Map();
      this.coalescing.set(topic, byOptions);
    }
    let waiting = byOptions.get(options);
    if (!waiting) {
      const list: Waiting[] = [];
      waiting = list;
      byOptions.set(options, list);
      const calls = byOptions;
      queueMicrotask(() => {
        calls.delete(options);
        if (calls.size === 0) this.coalescing.delete(topic);
        void this.flushSingles(topic, list, options);
      });
    }
    return waiting;
  }

  private readonly flushSlot = (): void => {
    const slot = this.slot as TickCalls;
    this.slot = undefined;
    void this.flushSingles(slot.topic, slot.list, slot.options);
  };

  private async flushSingles(
    topic: Topic<unknown>,
    waiting: Waiting[],
    options: PublishOptions | undefined,
  ): Promise<void> {
    const fail = (w: Waiting, e: unknown): void => {
      const err = toHeraldError(e, `publish to '${topic.name}'`);
      this.deps.onError?.(topic.name, err);
      w.reject(err);
    };
    // Each event is validated alone: a bad one rejects only its own caller. Without a schema
    // nothing waits (no promise, no turn).
    const events = waiting.map((w) => w.event);
    const outcomes =
      topic.schema === undefined
        ? prepareEachNow(topic, events, this.deps.source)
        : await prepareEach(topic, events, this.deps.source);
    // The usual outcome, every event valid: the outcomes are the prepared events (no copies).
    let ready = waiting;
    let prepared = outcomes as Prepared[];
    if (outcomes.some(isError)) {
      ready = [];
      prepared = [];
      for (let i = 0; i < waiting.length; i++) {
        const w = waiting[i] as Waiting;
        const o = outcomes[i] as PreparedEvent | Error;
        if (o instanceof Error) fail(w, o);
        else {
          ready.push(w);
          prepared.push(o);
        }
      }
      if (ready.length === 0) return;
    }
    try {
      for (const guard of this.deps.guards) guard(topic, ready.length);
      if (!this.deps.registry.isChecked(topic)) await this.deps.registry.ensure(topic);
      const written = await this.writeAll(topic, prepared, options);
      let stored = ready;
      let receipts = written.outcomes as PublishReceipt[];
      if (!written.allStored) {
        stored = [];
        receipts = [];
        for (let i = 0; i < ready.length; i++) {
          const o = written.outcomes[i];
          if (isReceipt(o)) {
            stored.push(ready[i] as Waiting);
            receipts.push(o);
          } else fail(ready[i] as Waiting, o);
        }
      }
      try {
        for (const finish of this.deps.finishers) await finish(topic, receipts, options);
      } catch (e) {
        for (const w of stored) fail(w, e);
        return;
      }
      if (receipts.length > 0) this.deps.onPublished?.(topic.name, receipts.length);
      for (let i = 0; i < stored.length; i++)
        (stored[i] as Waiting).resolve(receipts[i] as PublishReceipt);
    } catch (e) {
      for (const w of ready) fail(w, e);
    }
  }

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
    options?: PublishOptions,
  ): Promise<PublishReceipt[]> {
    try {
      if (events.length === 0) return [];
      const prepared = await this.prepare(topic, events);
      for (const guard of this.deps.guards) guard(topic, events.length);
      if (!this.deps.registry.isChecked(topic)) await this.deps.registry.ensure(topic);
      const receipts = await this.write(topic, prepared, options);
      for (const finish of this.deps.finishers) await finish(topic, receipts, options);
      this.deps.onPublished?.(topic.name, receipts.length);
      return receipts;
    } catch (e) {
      const err = toHeraldError(e, `publish to '${topic.name}'`);
      this.deps.onError?.(topic.name, err);
      throw err;
    }
  }

  /** The keys of every partition of the topic, by partition. */
  private keysOf(topic: Topic<unknown>): readonly PartitionKeys[] {
    let all = this.keyCache.get(topic);
    if (!all) {
      all = Array.from({ length: topic.partitions }, (_, p) =>
        partitionKeys(this.deps.prefix, topic, p),
      );
      this.keyCache.set(topic, all);
    }
    return all;
  }

  /** `<topic>:<partition>:` by partition: the derived id of an event is that and its position. */
  private idPrefixesOf(topic: Topic<unknown>): readonly string[] {
    let all = this.idPrefixCache.get(topic);
    if (!all) {
      all = Array.from({ length: topic.partitions }, (_, p) => derivedId(topic.name, p, ''));
      this.idPrefixCache.set(topic, all);
    }
    return all;
  }

  /** Validates and encodes every event before anything is written. */
  private prepare<T>(topic: Topic<T>, events: readonly OutgoingEvent<T>[]): Promise<Prepared[]> {
    return prepareEvents(topic, events, this.deps.source);
  }

  /** Writes prepared events in one pipeline; each outcome is a receipt or the error of that event. */
  private async writeAll(
    topic: Topic<unknown>,
    prepared: Prepared[],
    options: PublishOptions | undefined,
  ): Promise<Written> {
    const timeoutMs = options?.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    const conn = this.deps.connectionFor?.(topic, options) ?? this.deps.conn;
    if (
      prepared.length > 1 &&
      prepared.length <= TRANSACTION_MAX_EVENTS &&
      conn.transactional &&
      prepared.every(isPlain)
    )
      return this.writeInTransaction(topic, prepared, conn, timeoutMs);
    // One deadline for the whole batch (below), not a timer per command; when it passes, commands
    // still waiting to be written (Redis unreachable) are dropped through the abort signal.
    const drop = new DropSignal();
    const sendOpts = { timeoutMs, replyTimer: false, drop };
    const deadline = performance.now() + timeoutMs;
    // XADD's options, one object per partition (its key routes it in a cluster). An ACL refusal
    // is named on the failure path below, not by a promise per command (nameRefusals: false).
    const xaddOpts: SendOptions[] = [];
    const keysOf = this.keysOf(topic);
    const send = (p: Prepared): Promise<unknown> => {
      const keys = keysOf[p.partition] as PartitionKeys;
      const stream = keys.stream;
      if (p.id === undefined) {
        const opts = (xaddOpts[p.partition] ??= {
          timeoutMs,
          replyTimer: false,
          drop,
          key: stream,
          nameRefusals: false,
        });
        return conn.send<string>(xaddArgs(stream, p), opts);
      }
      return runScript<[number, string]>(
        conn,
        publishDedupe,
        [stream, keys.dedupePrefix + p.id],
        [String(topic.dedupeWindowMs), ...p.fields],
        sendOpts,
      );
    };
    // All commands are issued in the same tick: node-redis writes them as one pipeline.
    const pending = new Array<Promise<unknown>>(prepared.length);
    for (let i = 0; i < prepared.length; i++) pending[i] = send(prepared[i] as Prepared);
    const { replies, someFailed } = await gather(pending, timeoutMs, () => drop.drop());
    if (someFailed && replies.some(isRefusedUnrun))
      await this.retryRefused(prepared, replies, send, deadline, drop);
    return this.receiptsOf(topic, prepared, replies, someFailed);
  }

  /**
   * Writes plain events as one MULTI/EXEC (standalone Redis, connection ready): stored together,
   * and a consumer blocked on the stream is woken once, after EXEC, with all of them. After
   * pipelined XADDs Redis wakes it after the first one, and it reads again for the rest.
   * A user refused MULTI (an ACL from before Herald used it) gets its XADDs run one by one, as
   * a pipeline: their own replies then count, and the connection stops using transactions.
   */
  private async writeInTransaction(
    topic: Topic<unknown>,
    prepared: Prepared[],
    conn: RedisConnection,
    timeoutMs: number,
  ): Promise<Written> {
    const keysOf = this.keysOf(topic);
    const n = prepared.length;
    const opts: SendOptions = { timeoutMs, replyTimer: false, nameRefusals: false };
    // Each reply is held at once (a refusal as a Refused value), so none goes unhandled; the
    // usual outcome reads only EXEC's answer: each XADD's position, or the error it ran into.
    const held = new Array<Promise<unknown>>(n + 2);
    held[0] = conn.send(MULTI, opts).then(undefined, holdRefusal);
    for (let i = 0; i < n; i++) {
      const p = prepared[i] as Prepared;
      held[i + 1] = conn
        .send(xaddArgs((keysOf[p.partition] as PartitionKeys).stream, p), opts)
        .then(undefined, holdRefusal);
    }
    const exec = conn.send<unknown>(EXEC, opts).then(undefined, holdRefusal);
    held[n + 1] = exec;
    const answer = await withDeadline(exec, 'XADD', timeoutMs);
    if (Array.isArray(answer)) return this.receiptsOf(topic, prepared, answer, false);
    // EXEC did not run the transaction: the replies before it say what happened. They came
    // before EXEC's, so they are in.
    const replies = await withDeadline(Promise.all(held), 'XADD', timeoutMs);
    const settled = replies.map(settledOf);
    const multi = settled[0] as PromiseSettledResult<unknown>;
    let perEvent: PromiseSettledResult<unknown>[];
    if (multi.status === 'rejected') {
      // No transaction: each XADD ran (or failed) on its own, and its reply says which.
      if (isPermissionRefusal(multi.reason)) conn.noTransactions();
      perEvent = settled.slice(1, n + 1);
    } else {
      // Nothing was stored: an XADD refused while queued (EXECABORT) keeps its own refusal.
      const reason = answer instanceof Refused ? answer.reason : new Error('EXEC failed');
      perEvent = settled
        .slice(1, n + 1)
        .map((r) => (r.status === 'rejected' ? r : { status: 'rejected', reason }));
    }
    return this.receiptsOf(topic, prepared, perEvent, true);
  }

  /**
   * The receipt or error of each written event, from its reply (`someFailed`: the replies are
   * PromiseSettledResults; an Error among plain replies is one from inside a transaction).
   */
  private receiptsOf(
    topic: Topic<unknown>,
    prepared: Prepared[],
    replies: unknown[],
    someFailed: boolean,
  ): Written {
    const keysOf = this.keysOf(topic);
    const out = new Array<unknown>(prepared.length);
    const idPrefixes = this.idPrefixesOf(topic);
    let allStored = true;
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i] as Prepared;
      let reply: unknown = replies[i];
      if (someFailed && isSettledResult(reply)) {
        if (reply.status === 'rejected') {
          const stream = (keysOf[p.partition] as PartitionKeys).stream;
          out[i] =
            p.id === undefined ? asPermissionError(reply.reason, XADD, stream) : reply.reason;
          allStored = false;
          continue;
        }
        reply = reply.value;
      }
      if (reply instanceof Error) {
        // An error inside EXEC's answer (the XADD ran into it within the transaction).
        const stream = (keysOf[p.partition] as PartitionKeys).stream;
        out[i] = asPermissionError(reply, XADD, stream);
        allStored = false;
        continue;
      }
      // XADD answers the position; the dedupe script [added, position].
      let position: string;
      let duplicate = false;
      if (typeof reply === 'string') position = reply;
      else {
        const [added, at] = reply as readonly [number, string];
        position = String(at);
        duplicate = Number(added) === 0;
      }
      out[i] = new Receipt(
        // derivedId's text, from a prefix made once per partition
        p.id ?? (idPrefixes[p.partition] as string) + position,
        topic.name,
        p.partition,
        position,
        duplicate,
      );
    }
    return { outcomes: out, allStored };
  }

  /**
   * Sends again, until the batch's deadline, the commands a Cluster refused without running them
   * while their slot migrates (TRYAGAIN, an ASK to a node not known yet): sent again a little
   * later they run once the slot's keys are together or the node is known, so a publish during a
   * reshard succeeds instead of failing. Replaces their outcomes in `replies`; when the deadline
   * passes, a command still refused keeps its refusal, one still unanswered gets a timeout.
   */
  private async retryRefused(
    prepared: readonly Prepared[],
    replies: unknown[],
    send: (p: Prepared) => Promise<unknown>,
    deadline: number,
    drop: DropSignal,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const refused: number[] = [];
      for (let i = 0; i < replies.length; i++) if (isRefusedUnrun(replies[i])) refused.push(i);
      const pause = Math.min(MIGRATION_RETRY_MAX_MS, MIGRATION_RETRY_FIRST_MS * 2 ** attempt);
      if (refused.length === 0 || performance.now() + pause >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, pause));
      const again = refused.map((i) => send(prepared[i] as Prepared));
      const remainingMs = Math.max(1, Math.round(deadline - performance.now()));
      let outcomes: PromiseSettledResult<unknown>[];
      try {
        outcomes = await withDeadline(Promise.allSettled(again), 'XADD', remainingMs, () =>
          drop.drop(),
        );
      } catch (timeout) {
        // Sent and unanswered by the deadline: their outcome is unknown, as any late reply's.
        for (const i of refused) replies[i] = { status: 'rejected', reason: timeout };
        return;
      }
      for (const [k, i] of refused.entries()) replies[i] = outcomes[k];
    }
  }

  private async write(
    topic: Topic<unknown>,
    prepared: Prepared[],
    options: PublishOptions | undefined,
  ): Promise<PublishReceipt[]> {
    const { outcomes, allStored } = await this.writeAll(topic, prepared, options);
    // The usual outcome, every event stored: the outcomes are the receipts (no copy).
    if (allStored) return outcomes as PublishReceipt[];
    const errors = outcomes.filter((o) => !isReceipt(o));
    const err = toHeraldError(errors[0], `publish to '${topic.name}'`);
    if (prepared.length > 1) {
      err.message = `${errors.length} of ${prepared.length} events may not be stored (retry them with the same ids): ${err.message}`;
    }
    throw err;
  }
}
