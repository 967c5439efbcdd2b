/**
 * Herald's public API. Exports are listed one by one: what is not here is internal.
 */
export { defineTopic, DEFAULT_MAX_EVENT_BYTES, MAX_DEDUPE_WINDOW_MS } from './core/topic.ts';
export type { EnvelopeLayout, Topic, TopicOptions, TopicCodec } from './core/topic.ts';
export type {
  OutgoingEvent,
  HeraldEvent,
  Delivery,
  DeliveryInfo,
  PublishReceipt,
} from './core/event.ts';
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
  BusyError,
  AuthError,
  TlsError,
  isHeraldError,
} from './core/errors.ts';
export type { ValidationIssue } from './core/errors.ts';
/** One way to show any thrown value. */
export { errorMessage, errorText } from './core/error-text.ts';
/** A WATCH/MULTI transaction aborted because a watched key changed: retry it. */
export { isWatchConflict } from './redis/error-kinds.ts';
export { SUBSCRIBE_DEFAULTS } from './core/subscribe-options.ts';
export { BACKOFF_DEFAULTS } from './core/backoff.ts';
export { heraldLogger, silentLogger } from './core/logger.ts';
export { runAsMain, DEFAULT_SHUTDOWN_DEADLINE_MS } from './service/run-as-main.ts';
export type { Closable, RunAsMainOptions } from './service/run-as-main.ts';
export type { HeraldLogger } from './core/logger.ts';
export { connectHerald } from './herald.ts';
export type { HeraldOptions } from './herald.ts';
export { RedisBackend } from './redis/backend.ts';
export type { RedisBackendOptions } from './redis/backend.ts';
export type {
  Notification,
  NotificationHandler,
  ListenTarget,
  NotifyOptions,
  Listener,
  NotifierStatus,
  Notifier,
} from './core/notifications.ts';
export type {
  Job,
  JobHandler,
  QueueOptions,
  WorkOptions,
  WorkerCloseOptions,
  WorkerStatus,
  WorkerStats,
  Worker,
  DeadItem,
  QueueCounts,
  WorkQueue,
  Queues,
} from './core/queue.ts';
export { RedisNotifier } from './redis/notifications.ts';
export type { RedisNotifierOptions } from './redis/notifications.ts';
export { RedisQueueFactory } from './redis/queue.ts';
export { connect as connectRedis } from './redis/connection.ts';
export type { RedisConnection, ConnectionOptions } from './redis/connection.ts';
export type { TlsOptions } from './redis/tls.ts';
export { redactAll, redactUrl, secretsOf } from './core/redact.ts';
/** Scripts of your own (EVALSHA, sent in full once on NOSCRIPT; needs the `eval` right). */
export { loadScript, runScript } from './redis/scripts.ts';
export type { Script } from './redis/scripts.ts';
/** A Redis map reply (RESP3 object or RESP2 flat list) as a plain record of strings. */
export { toRecord } from './redis/replies.ts';
/** Where a topic's partitions live in Redis (streams, dead letters, dedupe records). */
export { allPartitionKeys, partitionKeys } from './redis/keys.ts';
export type { PartitionKeys } from './redis/keys.ts';
/** A local redis-server started as a child process (what `herald dev` and the demo run). */
export { getFreePort, startRedisServer } from './embedded/redis-server.ts';
export type { RedisServerHandle, RedisServerOptions } from './embedded/redis-server.ts';
export { idempotent, IdempotencyLeaseError, RECORD_DONE, Outbox } from './patterns/index.ts';
export type {
  IdempotentMiddleware,
  IdempotentOptions,
  OutboxEntry,
  OutboxOptions,
} from './patterns/index.ts';
