/**
 * Topics held in memory: per topic its partitions, each with its stream of
 * entries, its dead letters, its consumer groups and its dedupe window.
 */
import type { StartFrom } from '../core/contract.ts';
import { ConfigError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import { DedupeWindow } from './dedupe.ts';
import { DeadLetterLog, EntryLog } from './entry-log.ts';
import { GroupState } from './group.ts';

export class PartitionState {
  readonly stream = new EntryLog();
  readonly deadLetters = new DeadLetterLog();
  readonly dedupe = new DedupeWindow();
  private readonly groups = new Map<string, GroupState>();

  constructor(readonly partition: number) {}

  /** The group, created at `startFrom` if it does not exist yet (an existing group resumes). */
  group(name: string, startFrom: StartFrom): GroupState {
    let g = this.groups.get(name);
    if (g === undefined) {
      const next =
        startFrom === 'new'
          ? this.stream.length
          : startFrom === 'beginning'
            ? 0
            : this.stream.indexAfter(startFrom.position);
      g = new GroupState(this.stream, next);
      this.groups.set(name, g);
    }
    return g;
  }
}

interface TopicState {
  readonly partitions: readonly PartitionState[];
}

export class MemoryStore {
  private readonly topics = new Map<string, TopicState>();

  /**
   * The partitions of a topic, created on first use. A topic bound to a
   * `streamKey` shares its stream with every topic bound to the same key.
   * Throws ConfigError when the topic was used before with another partition count.
   */
  partitionsOf(topic: Topic<unknown>): readonly PartitionState[] {
    const key = topic.streamKey ?? topic.name;
    let state = this.topics.get(key);
    if (state === undefined) {
      state = {
        partitions: Array.from({ length: topic.partitions }, (_, i) => new PartitionState(i)),
      };
      this.topics.set(key, state);
    } else if (state.partitions.length !== topic.partitions) {
      throw new ConfigError(
        `topic '${topic.name}' exists with ${state.partitions.length} partition(s); ` +
          `this declaration says ${topic.partitions}`,
      );
    }
    return state.partitions;
  }
}
