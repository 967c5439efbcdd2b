/**
 * Operating Herald on Redis: capacity guard, replicated durability, safe
 * retention, Prometheus metrics and exporter, and the read-only queries the
 * CLI shows. See docs/operations.md.
 */
export { capacityVerdict, checkMemoryPolicy, enableCapacityGuard } from './capacity.ts';
export type {
  CapacityGuard,
  CapacityGuardOptions,
  CapacityVerdict,
  MemoryPolicyProblem,
} from './capacity.ts';
export { DEFAULT_REPLICATION_TIMEOUT_MS, durabilityOf, enableDurability } from './durability.ts';
export type { DurabilityHandle } from './durability.ts';
export { applyRetention, startRetention, trimTopic } from './retention.ts';
export type {
  BackgroundRetention,
  BackgroundRetentionOptions,
  GroupTrimLoss,
  PartitionTrimResult,
  RetentionOptions,
  TrimOptions,
} from './retention.ts';
export { HANDLER_BUCKETS, instrument, LIBRARY_METRICS } from './metrics.ts';
export type { InstrumentOptions, Instrumentation } from './metrics.ts';
export {
  createExporter,
  EXPORTER_METRICS,
  formatSnapshot,
  METRICS_CONTENT_TYPE,
  metricsHandler,
  serveExporter,
} from './exporter.ts';
export type {
  Exporter,
  ExporterOptions,
  ServedExporter,
  ServeExporterOptions,
} from './exporter.ts';
export {
  allGroupStats,
  DEFAULT_LAG_COUNT_LIMIT,
  groupStats,
  listTopics,
  memoryOfInfo,
  parseInfo,
  readTopicRecords,
  redisTime,
  resolveTopic,
  snapshot,
} from './inspect.ts';
export type {
  ConsumerInfo,
  GroupInfo,
  GroupPartitionInfo,
  GroupStatsOptions,
  ListTopicsOptions,
  MemoryInfo,
  PartitionInfo,
  Snapshot,
  SnapshotOptions,
  TopicInfo,
  TopicRef,
} from './inspect.ts';
export type { OpsLogger } from './log.ts';
export {
  countEntriesAfter,
  deleteGroup,
  previewGroupReset,
  resetGroup,
  DEFAULT_COUNT_LIMIT,
} from './group-admin.ts';
export type {
  GroupDeletion,
  GroupResetPlan,
  PartitionResetPlan,
  ResetOptions,
} from './group-admin.ts';
export {
  listDeadItems,
  listQueueNames,
  listQueues,
  purgeDeadItems,
  queueCounts,
  retryDeadItems,
} from './queue-admin.ts';
export type { DeadItemsOptions, QueueInfo } from './queue-admin.ts';
export { parseStreamTarget } from './stream-ids.ts';
export type { StreamTarget } from './stream-ids.ts';
