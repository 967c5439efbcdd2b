/**
 * The plumbing every saga service repeats: a Herald client, the idempotency
 * guard of its handlers, the outbox of its own topic, and subscriptions set up
 * the same way. A service's business logic is its Lua script and a few lines.
 *
 * Each service's handlers follow one pattern: one script checks the event's
 * idempotency record, applies the state change, stages the announcement in the
 * outbox and writes the record, atomically; then the staged announcement is
 * published. A crash anywhere leaves either nothing done (the event is
 * redelivered) or everything done but the publish (the outbox publishes it).
 */
import {
  ConfigError,
  RedisBackend,
  idempotent,
  Outbox,
  loadScript,
  runScript,
  type Delivery,
  type Handler,
  type Subscription,
  type Topic,
  type IdempotentMiddleware,
  type Script,
} from '../../src/index.ts';
import { eventId, type Order } from './events.ts';
import type { ServiceConfig } from './runtime.ts';

const luaFolder = new URL('./lua/', import.meta.url);

/** Loads one of the saga's scripts from ./lua. */
export function sagaScript(name: string): Script {
  return loadScript(name, luaFolder);
}

export class ServiceKit {
  readonly guard: IdempotentMiddleware<Order>;
  readonly outbox: Outbox;
  private readonly subscriptions: Subscription[] = [];

  private constructor(
    readonly name: string,
    readonly config: ServiceConfig,
    readonly backend: RedisBackend,
    private readonly ownTopic: Topic<Order> | undefined,
  ) {
    this.guard = idempotent<Order>({
      conn: backend.conn,
      prefix: this.key('processed'),
      leaseMs: config.visibilityTimeoutMs,
      onDuplicate: () => void this.count('duplicates'),
    });
    this.outbox = new Outbox({
      conn: backend.conn,
      publisher: backend,
      key: this.key('outbox'),
      topics: ownTopic ? [ownTopic] : [],
      onError: (e) => console.error(`${name}: outbox flush failed: ${e.message}`),
    });
  }

  /** Connects and starts the outbox. `ownTopic` is the one topic the service publishes to, if any. */
  static async start(
    name: string,
    config: ServiceConfig,
    ownTopic?: Topic<Order>,
  ): Promise<ServiceKit> {
    const backend = await RedisBackend.connect({
      url: config.redisUrl,
      prefix: config.heraldPrefix,
      source: name,
    });
    const kit = new ServiceKit(name, config, backend, ownTopic);
    // Announcements staged before a crash go out first.
    kit.outbox.start();
    return kit;
  }

  /** A private key of this service: `<keyPrefix>:<service>:<suffix>`. */
  key(suffix: string): string {
    return `${this.config.keyPrefix}:${this.name}:${suffix}`;
  }

  /** The outbox id and entry that announce `type` for `order` on this service's topic. */
  announcement(type: string, order: Order): [string, string] {
    if (!this.ownTopic) throw new ConfigError(`${this.name} publishes no events`);
    const id = eventId(order.orderId, type);
    return [
      id,
      Outbox.encode({ topic: this.ownTopic.name, id, type, key: order.orderId, data: order }),
    ];
  }

  /** Runs a handler script; publishes what it staged. Resolves to the script's outcome. */
  async apply(script: Script, keys: string[], args: string[]): Promise<string> {
    const [outcome, staged] = await runScript<[string, string]>(
      this.backend.conn,
      script,
      keys,
      args,
    );
    if (outcome === 'duplicate') await this.count('duplicates');
    // A failed publish leaves the event staged: the outbox's timer publishes it later.
    if (staged !== '') await this.outbox.flush([staged]).catch(() => {});
    return outcome;
  }

  async count(field: string): Promise<void> {
    await this.backend.conn.send(['HINCRBY', this.key('stats'), field, '1']).catch(() => {});
  }

  /**
   * Subscribes this service's group to a topic, from its beginning. Events of
   * the listed types go through the idempotency guard to their handler; the
   * others are acknowledged untouched.
   */
  subscribe(
    topic: Topic<Order>,
    handlers: Record<string, (e: Delivery<Order>) => Promise<unknown>>,
  ): void {
    const guarded = this.guard(async (e) => {
      await handlers[e.type]?.(e);
    });
    const handler: Handler<Order> = async (e) => {
      if (Object.hasOwn(handlers, e.type)) await guarded(e);
    };
    this.subscriptions.push(
      this.backend.subscribe(
        topic,
        {
          group: this.name,
          startFrom: 'beginning',
          concurrency: this.config.concurrency,
          visibilityTimeoutMs: this.config.visibilityTimeoutMs,
          maxAttempts: 10,
        },
        handler,
      ),
    );
  }

  async ready(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.ready));
  }

  async close(): Promise<void> {
    await this.outbox.close();
    await this.backend.close({ deadlineMs: 5000 });
  }
}
