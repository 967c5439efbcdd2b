/**
 * The Redis ACL rules for exactly the rights a Herald user needs (`herald acl`). Redis 7.0+.
 *
 * Each right is a set of ACL selectors, `(keys commands)`: Redis allows a command when one
 * selector (or the root rules) allows the command together with all its keys, so rights
 * for different topics do not mix: a producer of `orders` that consumes `payments` may
 * XADD to orders and XREADGROUP payments, not the other way round.
 *
 * Herald's scripts are functions (FCALL): a selector allows FCALL on all the keys a
 * script is given, and each command the function runs is checked again against the
 * user's rules, so FCALL grants nothing beyond the commands listed. No user gets `eval`,
 * `function|load` or any `@dangerous` category; single commands are listed one by one.
 */
import type { Topic } from '../core/topic.ts';
import { membersKey, partitionKeys, registryKey } from './keys.ts';

export interface AclRequest {
  readonly user: string;
  readonly prefix: string;
  readonly publish?: readonly Topic<unknown>[];
  readonly consume?: readonly { readonly topic: Topic<unknown>; readonly group: string }[];
  /** Notification channel patterns, as given to `notifications.listen` / `subscribe`. */
  readonly listen?: readonly string[];
  readonly monitor?: boolean;
}

/** Every user: connect (node-redis's handshake), and read the topic registry. */
export const CONNECT_COMMANDS = ['+ping', '+hello', '+client|setname', '+client|id'] as const;
export const REGISTRY_READ_COMMANDS = ['+hget', '+hgetall'] as const;

/**
 * Publishing: XADD, the dedupe script (GET, XADD, SET), the capacity guard's `INFO memory`,
 * durability's WAIT, and MULTI/EXEC (the publish() calls of one tick are written as one
 * transaction; each XADD in it is still checked against the topic's selector).
 */
export const PUBLISH_ROOT_COMMANDS = ['+info', '+wait', '+multi', '+exec'] as const;
/** Consuming: reading as a group, acknowledging, retrying (XCLAIM), taking over (XAUTOCLAIM), groups and consumers. */
export const CONSUME_STREAM_COMMANDS = [
  '+xreadgroup',
  '+xack',
  '+xclaim',
  '+xautoclaim',
  '+xpending',
  '+xinfo|groups',
  '+xinfo|consumers',
  '+xinfo|stream',
  '+xgroup|create',
  '+xgroup|createconsumer',
  '+xgroup|delconsumer',
  '+exists',
] as const;
/**
 * Ordered subscriptions (`ordered: true`), inside their functions: ownership keys (owner lease,
 * fencing epoch), the members set, the stream's top (XREVRANGE) and the wait for new events
 * (XREAD BLOCK), and Redis's clock (TIME, for membership leases).
 */
export const ORDERED_OWNERSHIP_COMMANDS = ['+get', '+set', '+incr', '+pexpire', '+del', '+exists'];
export const ORDERED_MEMBERS_COMMANDS = [
  '+zadd',
  '+zrem',
  '+zremrangebyscore',
  '+zrange',
  '+pexpire',
];
export const ORDERED_STREAM_COMMANDS = ['+xrevrange', '+xread'];
export const ORDERED_ROOT_COMMANDS = ['+time'];
/** Listening to notifications. */
export const LISTEN_COMMANDS = [
  '+subscribe',
  '+psubscribe',
  '+unsubscribe',
  '+punsubscribe',
  // Redis Cluster: notifications use sharded pub/sub.
  '+ssubscribe',
  '+sunsubscribe',
];
/**
 * Monitoring: `herald topics`, `groups`, `tail`, `dlq list`, `doctor`, `exporter` (with its work
 * queue gauges: SCAN to find queues, LLEN to count them); reads only.
 */
export const MONITOR_COMMANDS = [
  '+scan',
  '+llen',
  '+hgetall',
  '+hget',
  '+hlen',
  '+xlen',
  '+xrange',
  '+xrevrange',
  '+xread',
  '+xpending',
  '+xinfo|stream',
  '+xinfo|groups',
  '+xinfo|consumers',
  '+exists',
  // Ownership of ordered groups (`herald groups`, the exporter): the owner and epoch keys.
  '+get',
  '+pttl',
  '+type',
  '+memory|usage',
  '+info',
  '+time',
  '+role',
] as const;

/** Escapes Redis glob characters in a literal part of a key or channel pattern. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Key patterns of a topic's streams, dead letters and dedupe records (every partition). */
export function topicKeyPatterns(
  prefix: string,
  topic: Topic<unknown>,
): { stream: string; dlq: string; dedupe: string } {
  if (topic.streamKey !== undefined) {
    const k = partitionKeys(prefix, topic, 0);
    return {
      stream: escapeGlob(k.stream),
      dlq: escapeGlob(k.dlq),
      dedupe: `${escapeGlob(k.dedupePrefix)}*`,
    };
  }
  // Partition keys are <prefix>:{<topic>:<n>}:…; topic names have no ':' or braces, so
  // '{orders:[0-9]*}' matches the partitions of 'orders' and of no other topic.
  const base = `${escapeGlob(prefix)}:{${escapeGlob(topic.name)}:[0-9]*}`;
  return { stream: `${base}:stream`, dlq: `${base}:dlq`, dedupe: `${base}:dedupe:*` };
}

/** Key patterns of an ordered group's ownership keys (every partition) and members set. */
export function orderedKeyPatterns(
  prefix: string,
  topic: Topic<unknown>,
  group: string,
): { owner: string; epoch: string; members: string } {
  const g = escapeGlob(group);
  const members = escapeGlob(membersKey(prefix, topic, group));
  if (topic.streamKey !== undefined) {
    const k = partitionKeys(prefix, topic, 0);
    return {
      owner: `${escapeGlob(k.ownerPrefix)}${g}`,
      epoch: `${escapeGlob(k.epochPrefix)}${g}`,
      members,
    };
  }
  const base = `${escapeGlob(prefix)}:{${escapeGlob(topic.name)}:[0-9]*}`;
  return { owner: `${base}:owner:${g}`, epoch: `${base}:epoch:${g}`, members };
}

/** One selector: `(~k1 ~k2 +cmd…)`. */
function selector(keys: readonly string[], commands: readonly string[]): string {
  return `(${[...keys.map((k) => `~${k}`), ...commands].join(' ')})`;
}

/** The arguments of the ACL SETUSER command granting exactly `request`'s rights. */
export function aclSetUserArgs(request: AclRequest): string[] {
  const { prefix } = request;
  // Start clean (passwords are left alone: set them apart, see docs/security.md).
  const args = [
    'ACL',
    'SETUSER',
    request.user,
    'on',
    'resetkeys',
    'resetchannels',
    'clearselectors',
    '-@all',
  ];
  const rootCommands = new Set<string>([...CONNECT_COMMANDS, ...REGISTRY_READ_COMMANDS]);
  const selectors: string[] = [];
  for (const topic of request.publish ?? []) {
    const k = topicKeyPatterns(prefix, topic);
    for (const c of PUBLISH_ROOT_COMMANDS) rootCommands.add(c);
    selectors.push(
      selector([k.stream, k.dedupe], ['+fcall']), // publish-dedupe
      selector([k.stream], ['+xadd']),
      selector([k.dedupe], ['+get', '+set']),
    );
  }
  for (const { topic, group } of request.consume ?? []) {
    const k = topicKeyPatterns(prefix, topic);
    const o = orderedKeyPatterns(prefix, topic, group);
    for (const c of ORDERED_ROOT_COMMANDS) rootCommands.add(c);
    selectors.push(
      // group-create, consumer-remove, dead-letter; ordered: ordered-*, partition-*
      selector([k.stream, k.dlq, o.owner, o.epoch, o.members], ['+fcall']),
      selector([k.stream], [...CONSUME_STREAM_COMMANDS, ...ORDERED_STREAM_COMMANDS]),
      selector([k.dlq], ['+xadd']),
      selector([o.owner, o.epoch], ORDERED_OWNERSHIP_COMMANDS),
      selector([o.members], ORDERED_MEMBERS_COMMANDS),
    );
  }
  const channels = (request.listen ?? []).map((p) => `&${escapeGlob(prefix)}:n:${p}`);
  if (channels.length > 0) for (const c of LISTEN_COMMANDS) rootCommands.add(c);
  // Reading the registry, or (monitor) everything under the prefix.
  const rootKeys = [
    request.monitor === true
      ? `%R~${escapeGlob(prefix)}:*`
      : `%R~${escapeGlob(registryKey(prefix))}`,
  ];
  if (request.monitor === true) {
    for (const c of MONITOR_COMMANDS) rootCommands.add(c);
  }
  return [...args, ...rootKeys, ...channels, ...rootCommands, ...selectors];
}

/** One argument as redis-cli reads it: quoted when it holds spaces, quotes or braces. */
export function quoteArg(arg: string): string {
  return /^[A-Za-z0-9_|+\-@%~&:.*]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`;
}

/** The ACL SETUSER line for redis-cli. */
export function aclSetUserLine(request: AclRequest): string {
  return aclSetUserArgs(request).map(quoteArg).join(' ');
}
