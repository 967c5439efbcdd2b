/**
 * The in-memory backend, for users' unit tests: the Redis backend's semantics
 * (consumer groups, retries, dead letters, visibility timeout, dedupe,
 * partitions, schema validation) inside one process, with nothing to run.
 * Events live as long as the backend object; nothing is shared across processes.
 */
import type {
  Backend,
  BackendFeatures,
  CloseOptions,
  Handler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from '../core/contract.ts';
import { ClosedError } from '../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import { MemoryDeadLetters } from './dead-letters.ts';
import { MemoryPublisher } from './publisher.ts';
import { MemoryStore } from './store.ts';
import { subscribeMemory } from './subscription.ts';
import { subscribeMemoryOrdered } from './ordered.ts';
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';

export interface MemoryBackendOptions {
  /** CloudEvents `source` of events published here. Default 'herald'. */
  readonly source?: string;
  /** Where retries and dead letters are logged. Default: pino on stderr (see core/logger.ts). */
  readonly logger?: HeraldLogger;
}

export class MemoryBackend implements Backend {
  readonly name = 'memory';
  readonly features: BackendFeatures = {
    durable: false,
    crossProcess: false,
    deadLetters: true,
    partitions: true,
    rawCodec: true,
  };
  readonly deadLetters: MemoryDeadLetters;
  readonly logger: HeraldLogger;

  private readonly store = new MemoryStore();
  private readonly publisher: MemoryPublisher;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.publisher = new MemoryPublisher(this.store, options.source ?? 'herald');
    this.deadLetters = new MemoryDeadLetters(this.store);
    this.logger = heraldLogger(options.logger);
  }

  async publish<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    _options?: PublishOptions,
  ): Promise<PublishReceipt> {
    const [receipt] = await this.publishBatch(topic, [event]);
    return receipt as PublishReceipt;
  }

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
    _options?: PublishOptions,
  ): Promise<PublishReceipt[]> {
    this.assertOpen(`publish to '${topic.name}'`);
    return await this.publisher.publishBatch(topic, events);
  }

  subscribe<T>(topic: Topic<T>, options: SubscribeOptions<T>, handler: Handler<T>): Subscription {
    this.assertOpen(`subscribe to '${topic.name}'`);
    const partitions = this.store.partitionsOf(topic);
    const subscribe = options.ordered === true ? subscribeMemoryOrdered : subscribeMemory;
    const sub = subscribe<T>({ partitions, logger: this.logger }, topic, options, handler);
    this.subscriptions.add(sub);
    const close = sub.close.bind(sub);
    sub.close = async (o?: CloseOptions) => {
      await close(o);
      this.subscriptions.delete(sub);
    };
    return sub;
  }

  /** Closes every subscription (each with the deadline); later publishes reject with ClosedError. */
  async close(options?: CloseOptions): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close(options)));
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new ClosedError(`${what}: the Herald client is closed`);
  }
}
