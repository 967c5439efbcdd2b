/**
 * Herald's public API. Exports are listed one by one: what is not here is internal.
 */
export { defineTopic } from './core/topic.ts';
export type { Topic, TopicOptions, TopicCodec } from './core/topic.ts';
export type { OutgoingEvent, HeraldEvent, Delivery, DeliveryInfo, PublishReceipt } from './core/event.ts';
export { applyMiddleware } from './core/contract.ts';
export type {
  Backend,
  BackendFeatures,
  BackoffOptions,
  CloseOptions,
  DeadLetter,
  DeadLetterFilter,
  DeadLetters,
  Durability,
  Handler,
  Middleware,
  PublishOptions,
  Publisher,
  StartFrom,
  SubscribeOptions,
  Subscriber,
  Subscription,
  SubscriptionStatus,
} from './core/contract.ts';
export {
  ErrorCode,
  HeraldError,
  ValidationError,
  CapacityError,
  ConnectionError,
  TimeoutError,
  DecodeError,
  ConfigError,
  ClosedError,
  DurabilityError,
  UnsupportedError,
  NotFoundError,
  RedisError,
  isHeraldError,
} from './core/errors.ts';
export type { ValidationIssue } from './core/errors.ts';
export { RedisBackend } from './redis/backend.ts';
export type { RedisBackendOptions } from './redis/backend.ts';
export { connect as connectRedis } from './redis/connection.ts';
export type { RedisConnection, ConnectionOptions } from './redis/connection.ts';
