/**
 * Hooks into a Redis backend, added through one API that checks them and returns a
 * disposer (fastify's `addHook` is the model). Operations code (capacity guard, replicated
 * durability, metrics) plugs in here, never by editing the backend's fields, and removing
 * one hook never removes another's: two `instrument()` calls each own their hooks.
 */
import type { PublishOptions } from '../core/contract.ts';
import type { DeliveryHooks } from '../core/delivery-engine.ts';
import { ConfigError, type HeraldError } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';

/** Every hook a Redis backend runs, by name. */
export interface BackendHooks {
  /** Before a publish writes anything; throw to refuse it (the capacity guard does). */
  beforePublish: (topic: Topic<unknown>, count: number) => void;
  /** After a publish was written, before it resolves; reject to fail it (replicated durability does). */
  afterPublish: (
    topic: Topic<unknown>,
    receipts: readonly PublishReceipt[],
    options: PublishOptions | undefined,
  ) => Promise<void>;
  /** The connection to write a publish on instead of the shared one; the first hook that answers wins. */
  publishConnection: (
    topic: Topic<unknown>,
    options: PublishOptions | undefined,
  ) => RedisConnection | undefined;
  /** Events stored by a publish of this client. */
  published: (topic: string, count: number) => void;
  /** A publish that failed, with its typed error. */
  publishFailed: (topic: string, error: HeraldError) => void;
  /** A handler finished (ok) or threw, after `seconds`. */
  handled: NonNullable<DeliveryHooks['onHandled']>;
  /** A failed event was scheduled for another attempt. */
  retry: NonNullable<DeliveryHooks['onRetry']>;
  /** An event was moved to the dead letters. */
  deadLettered: NonNullable<DeliveryHooks['onDeadLettered']>;
  /** Events were taken over from silent consumers. */
  reclaimed: NonNullable<DeliveryHooks['onReclaimed']>;
  /** Events were trimmed before a group acknowledged them (lost to that group). */
  trimmedBeforeAck: NonNullable<DeliveryHooks['onTrimmedBeforeAck']>;
  /** Ordered subscriptions: this instance took, handed over or lost a partition (rebalances, owned partitions). */
  partitionOwnership: NonNullable<DeliveryHooks['onPartitionOwnership']>;
  /** Run by `close()` after the subscriptions closed, before the connection closes. */
  close: () => void | Promise<void>;
}

export type HookName = keyof BackendHooks;

type Lists = { [K in HookName]: BackendHooks[K][] };

export class Hooks {
  private readonly lists: Lists = {
    beforePublish: [],
    afterPublish: [],
    publishConnection: [],
    published: [],
    publishFailed: [],
    handled: [],
    retry: [],
    deadLettered: [],
    reclaimed: [],
    trimmedBeforeAck: [],
    partitionOwnership: [],
    close: [],
  };

  /**
   * What subscriptions call, one function per observer kind, undefined while nobody
   * observes it (a subscription then skips the work, e.g. timing handlers). Kept up to
   * date as hooks come and go; the object itself stays the same.
   */
  readonly delivery: DeliveryHooks = {};

  /** Adds a hook; returns the function that removes it (idempotent). */
  add<K extends HookName>(name: K, hook: BackendHooks[K]): () => void {
    if (!Object.hasOwn(this.lists, name)) {
      throw new ConfigError(
        `unknown hook '${String(name)}': one of ${Object.keys(this.lists).join(', ')}`,
      );
    }
    if (typeof hook !== 'function') {
      throw new ConfigError(`hook '${name}' must be a function, got ${typeof hook}`);
    }
    const list = this.lists[name];
    list.push(hook);
    this.refreshDelivery();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
      this.refreshDelivery();
    };
  }

  /** The hooks of one kind, in the order they were added (a live view: do not keep it across awaits). */
  list<K extends HookName>(name: K): readonly BackendHooks[K][] {
    return this.lists[name];
  }

  private refreshDelivery(): void {
    const d = this.delivery;
    d.onHandled = fanOut(this.lists.handled);
    d.onRetry = fanOut(this.lists.retry);
    d.onDeadLettered = fanOut(this.lists.deadLettered);
    d.onReclaimed = fanOut(this.lists.reclaimed);
    d.onTrimmedBeforeAck = fanOut(this.lists.trimmedBeforeAck);
    d.onPartitionOwnership = fanOut(this.lists.partitionOwnership);
  }
}

/** One function calling every observer in turn; undefined when there is none. */
function fanOut<A extends unknown[]>(
  list: readonly ((...args: A) => void)[],
): ((...args: A) => void) | undefined {
  if (list.length === 0) return undefined;
  const copy = [...list];
  if (copy.length === 1) return copy[0];
  return (...args: A) => {
    for (const f of copy) f(...args);
  };
}
