/**
 * The Redis backend: durable topics on Redis Streams. It wires the parts
 * (publisher, consumer-group subscriptions, dead letters) to one connection;
 * each part lives in its own module.
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
import { ClosedError, ConfigError } from '../core/errors.ts';
import { toError } from '../core/error-text.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import { connect, type ConnectionOptions, type RedisConnection } from './connection.ts';
import { subscribeStream } from './consumer.ts';
import { subscribeOrdered } from './ordered-transport.ts';
import type { DeliveryHooks } from '../core/delivery-engine.ts';
import { Hooks, type BackendHooks, type HookName } from './hooks.ts';
import { RedisDeadLetters } from './dead-letters.ts';
import { DEFAULT_PREFIX } from './keys.ts';
import { StreamPublisher } from './publisher.ts';
import { TopicRegistry } from './registry.ts';
import { RedisNotifier } from './notifications.ts';
import { RedisQueueFactory } from './queue.ts';
import type { QueueOptions, WorkQueue } from '../core/queue.ts';
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';

export interface RedisBackendOptions extends ConnectionOptions {
  /** Prefix of every key Herald writes. Default 'herald'. */
  readonly prefix?: string;
  /** CloudEvents `source` of events this client publishes. Default: 'herald'. */
  readonly source?: string;
  /** An existing connection to share, instead of connecting. */
  readonly connection?: RedisConnection;
  /** Where retries, dead letters and lost connections are logged. Default: pino on stderr (see core/logger.ts). */
  readonly logger?: HeraldLogger;
}

export class RedisBackend implements Backend {
  readonly name = 'redis';
  readonly features: BackendFeatures = {
    durable: true,
    crossProcess: true,
    deadLetters: true,
    partitions: true,
    rawCodec: true,
  };
  readonly prefix: string;
  readonly registry: TopicRegistry;
  readonly deadLetters: RedisDeadLetters;
  readonly logger: HeraldLogger;
  /** Hooks added with `addHook` (operations code: capacity guard, durability, metrics). */
  private readonly hooks = new Hooks();

  private readonly publisher: StreamPublisher;
  private notifier: RedisNotifier | undefined;
  private queues: RedisQueueFactory | undefined;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  private constructor(
    readonly conn: RedisConnection,
    options: RedisBackendOptions,
    private readonly ownsConnection: boolean,
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.logger = heraldLogger(options.logger);
    this.registry = new TopicRegistry(conn, this.prefix);
    this.deadLetters = new RedisDeadLetters(conn, this.prefix);
    this.publisher = new StreamPublisher({
      conn,
      prefix: this.prefix,
      source: options.source ?? 'herald',
      registry: this.registry,
      guards: this.hooks.list('beforePublish'),
      finishers: this.hooks.list('afterPublish'),
      onPublished: (t, n) => {
        for (const h of this.hooks.list('published')) h(t, n);
      },
      onError: (t, e) => {
        for (const h of this.hooks.list('publishFailed')) h(t, e);
      },
      connectionFor: (t, o) => this.publishConnectionFor(t, o),
    });
  }

  /**
   * Adds a hook (see redis/hooks.ts for each name and when it runs); returns the function
   * that removes exactly this hook. Unknown names and non-functions are refused.
   */
  addHook<K extends HookName>(name: K, hook: BackendHooks[K]): () => void {
    return this.hooks.add(name, hook);
  }

  /** The connection a publish writes on: the one a `publishConnection` hook gives, else the shared one. */
  publishConnectionFor(
    topic: Topic<unknown>,
    options: PublishOptions | undefined,
  ): RedisConnection {
    for (const h of this.hooks.list('publishConnection')) {
      const conn = h(topic, options);
      if (conn) return conn;
    }
    return this.conn;
  }

  /** Whether any hook of this kind is installed. */
  hasHook(name: HookName): boolean {
    return this.hooks.list(name).length > 0;
  }

  /** Observers of deliveries, for code that reports them (retention reports trimmed events). */
  get deliveryHooks(): DeliveryHooks {
    return this.hooks.delivery;
  }

  /** Connects to Redis (REDIS_URL by default). */
  static async connect(options: RedisBackendOptions = {}): Promise<RedisBackend> {
    if (options.connection) return new RedisBackend(options.connection, options, false);
    return new RedisBackend(await connect(options), options, true);
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new ClosedError(`${what}: the Herald client is closed`);
  }

  /** A replicated publish without replication support would silently be primary-only: refuse it. */
  private assertDurable(topic: Topic<unknown>, options: PublishOptions | undefined): void {
    const mode = (options?.durability ?? topic.durability).mode;
    if (mode === 'replicated' && !this.hasHook('afterPublish')) {
      throw new ConfigError(
        `publish to '${topic.name}' asks for replicated durability, but this client cannot wait for replicas: ` +
          `use connectHerald(), or call enableDurability(backend) from 'herald/ops'`,
      );
    }
  }

  publish<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt> {
    // Not async: the publisher's promise is handed back as it is (an async wrapper would add a
    // promise and a turn per call on the coalesced hot path); a refusal still rejects.
    try {
      if (this.closed) this.assertOpen(`publish to '${topic.name}'`);
      this.assertDurable(topic, options);
    } catch (e) {
      return Promise.reject(toError(e));
    }
    return this.publisher.publish(topic, event, options);
  }

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
    options?: PublishOptions,
  ): Promise<PublishReceipt[]> {
    this.assertOpen(`publish to '${topic.name}'`);
    this.assertDurable(topic, options);
    return await this.publisher.publishBatch(topic, events, options);
  }

  subscribe<T>(topic: Topic<T>, options: SubscribeOptions<T>, handler: Handler<T>): Subscription {
    this.assertOpen(`subscribe to '${topic.name}'`);
    // Ordered subscriptions own partitions (ordered-transport.ts); the engine is the same.
    const sub = (options.ordered === true ? subscribeOrdered : subscribeStream)<T>(
      {
        conn: this.conn,
        prefix: this.prefix,
        registry: this.registry,
        hooks: this.hooks.delivery,
        logger: this.logger,
      },
      topic,
      options,
      handler,
    );
    this.subscriptions.add(sub);
    const close = sub.close.bind(sub);
    sub.close = async (o?: CloseOptions) => {
      await close(o);
      this.subscriptions.delete(sub);
    };
    return sub;
  }

  /** Fire-and-forget notifications on pub/sub (at-most-once). */
  get notifications(): RedisNotifier {
    this.assertOpen('notifications');
    this.notifier ??= new RedisNotifier(this.conn, this.prefix);
    return this.notifier;
  }

  /** A reliable work queue on Redis lists (at-least-once). */
  queue<T>(name: string, options?: QueueOptions<T>): WorkQueue<T> {
    this.assertOpen(`queue '${name}'`);
    this.queues ??= new RedisQueueFactory(this.conn, this.prefix);
    return this.queues.queue<T>(name, options);
  }

  async close(options?: CloseOptions): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([
      ...[...this.subscriptions].map((s) => s.close(options)),
      this.queues?.close(options),
      this.notifier?.close(),
    ]);
    // A copy: hooks remove themselves from the list as they run.
    for (const hook of [...this.hooks.list('close')]) await hook();
    if (this.ownsConnection) await this.conn.close();
  }
}
