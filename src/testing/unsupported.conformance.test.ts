/**
 * The suite's other branch: a backend that declares dead letters, partitions
 * and the raw codec unsupported must fail those calls with UnsupportedError.
 * Here the in-memory backend is wrapped to offer less, as a user's own
 * backend might.
 */
import type {
  Backend,
  BackendFeatures,
  CloseOptions,
  DeadLetters,
  Handler,
  SubscribeOptions,
  Subscription,
} from '../core/contract.ts';
import { UnsupportedError } from '../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import { MemoryBackend } from '../memory/index.ts';
import { runConformanceSuite } from './index.ts';

const features: BackendFeatures = {
  durable: false,
  crossProcess: false,
  deadLetters: false,
  partitions: false,
  rawCodec: false,
};

const noDeadLetters = (): Promise<never> =>
  Promise.reject(new UnsupportedError('this backend keeps no dead letters'));

class RestrictedBackend implements Backend {
  readonly name = 'memory-restricted';
  readonly features = features;
  readonly deadLetters: DeadLetters = {
    list: noDeadLetters,
    replay: noDeadLetters,
    purge: noDeadLetters,
  };
  private readonly inner = new MemoryBackend();

  private check(topic: Topic<unknown>): void {
    if (topic.partitions > 1)
      throw new UnsupportedError(`topic '${topic.name}': partitions are unsupported`);
    if (topic.codec === 'raw')
      throw new UnsupportedError(`topic '${topic.name}': the raw codec is unsupported`);
  }

  async publish<T>(topic: Topic<T>, event: OutgoingEvent<T>): Promise<PublishReceipt> {
    this.check(topic);
    return await this.inner.publish(topic, event);
  }

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
  ): Promise<PublishReceipt[]> {
    this.check(topic);
    return await this.inner.publishBatch(topic, events);
  }

  subscribe<T>(topic: Topic<T>, options: SubscribeOptions<T>, handler: Handler<T>): Subscription {
    this.check(topic);
    return this.inner.subscribe(topic, options, handler);
  }

  close(options?: CloseOptions): Promise<void> {
    return this.inner.close(options);
  }
}

runConformanceSuite('memory with fewer features', {
  create: () => Promise.resolve(new RestrictedBackend()),
  features,
});
