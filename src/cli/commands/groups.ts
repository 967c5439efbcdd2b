import type { Command } from 'commander';
import { groupStats, type GroupInfo } from '../../ops/inspect.ts';
import type { PartitionOwnership } from '../../redis/ownership-read.ts';
import { resolveTopic, withBackend } from '../context.ts';
import { formatDuration, printJson, println, renderTable } from '../output.ts';

interface GroupsOptions {
  json?: boolean;
  byPartition?: boolean;
}

/** A group without progress for this long gets a note under the tables. */
const STALLED_NOTE_SECONDS = 60;

const seconds = (s: number | null): string | undefined =>
  s === null ? undefined : formatDuration(s * 1000);
/** A lag above the count limit is a lower bound, shown as `1000+`. */
const lagText = (lag: number | null, atLeast = false): string =>
  lag === null ? 'unknown' : `${lag}${atLeast ? '+' : ''}`;

/** Lines under the tables for what the columns cannot say: stalled groups, Redis's wrong lag. */
function notes(groups: readonly GroupInfo[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    if (g.secondsSinceProgress >= STALLED_NOTE_SECONDS) {
      const since = formatDuration(g.secondsSinceProgress * 1000);
      out.push(`group '${g.group}': events wait and it made no progress for ${since}`);
    }
    const unowned = g.ownership.filter((p) => p.owner === undefined).map((p) => p.partition);
    if (unowned.length > 0) {
      out.push(
        `group '${g.group}' (ordered): no instance owns partition(s) ${unowned.join(', ')}; their events wait until one takes them`,
      );
    }
    if (g.redisLagWrong.length > 0) {
      const parts = g.partitions
        .filter((p) => p.redisLagWrong)
        .map((p) => `${p.redisLag ?? '?'} on partition ${p.partition}`)
        .join(', ');
      out.push(
        `group '${g.group}': Redis's own lag (XINFO GROUPS) is wrong (${parts}); LAG counts the unread events (Redis 7.0 after an AOF reload)`,
      );
    }
  }
  return out;
}

/** Owner, epoch and lease left of one partition of an ordered group (blank for an unordered one). */
const ownerText = (o: PartitionOwnership | undefined): string | undefined =>
  o === undefined ? undefined : (o.owner ?? '(none)');
const leaseText = (o: PartitionOwnership | undefined): string | undefined =>
  o?.leaseLeftMs === undefined ? undefined : formatDuration(o.leaseLeftMs);

function ownershipOf(g: GroupInfo, partition: number): PartitionOwnership | undefined {
  return g.ownership.find((o) => o.partition === partition);
}

/** The owners of the partitions of ordered groups, one row per partition. */
function printOwners(groups: readonly GroupInfo[]): void {
  const rows = groups.flatMap((g) => g.ownership.map((o) => ({ group: g.group, ...o })));
  if (rows.length === 0) return;
  println();
  println(
    renderTable(rows, [
      { header: 'GROUP', value: (r) => r.group },
      { header: 'PART', value: (r) => r.partition, align: 'right' },
      { header: 'OWNER', value: (r) => ownerText(r) },
      { header: 'EPOCH', value: (r) => r.epoch, align: 'right' },
      { header: 'LEASE LEFT', value: (r) => leaseText(r), align: 'right' },
    ]),
  );
}

function printGroups(groups: readonly GroupInfo[], byPartition: boolean): void {
  const anyOrdered = groups.some((g) => g.ordered);
  if (byPartition) {
    const rows = groups.flatMap((g) =>
      g.partitions.map((p) => ({ group: g.group, ownership: ownershipOf(g, p.partition), ...p })),
    );
    const ownerColumns = anyOrdered
      ? [
          { header: 'OWNER', value: (r: (typeof rows)[number]) => ownerText(r.ownership) },
          {
            header: 'EPOCH',
            value: (r: (typeof rows)[number]) => r.ownership?.epoch,
            align: 'right' as const,
          },
          {
            header: 'LEASE LEFT',
            value: (r: (typeof rows)[number]) => leaseText(r.ownership),
            align: 'right' as const,
          },
        ]
      : [];
    println(
      renderTable(rows, [
        { header: 'GROUP', value: (r) => r.group },
        { header: 'PART', value: (r) => r.partition, align: 'right' },
        { header: 'LAG', value: (r) => lagText(r.lag, r.lagAtLeast), align: 'right' },
        { header: 'PENDING', value: (r) => r.pending, align: 'right' },
        {
          header: 'OLDEST PENDING',
          value: (r) => seconds(r.oldestPendingAgeSeconds),
          align: 'right',
        },
        { header: 'LAST DELIVERED', value: (r) => r.lastDeliveredId },
        { header: 'CONSUMERS', value: (r) => r.consumers.length, align: 'right' },
        ...ownerColumns,
      ]),
    );
  } else {
    println(
      renderTable(groups, [
        { header: 'GROUP', value: (g) => g.group },
        { header: 'LAG', value: (g) => lagText(g.lag, g.lagAtLeast), align: 'right' },
        { header: 'PENDING', value: (g) => g.pending, align: 'right' },
        {
          header: 'OLDEST PENDING',
          value: (g) => seconds(g.oldestPendingAgeSeconds),
          align: 'right',
        },
        { header: 'CONSUMERS', value: (g) => g.consumers.length, align: 'right' },
      ]),
    );
    printOwners(groups);
  }
  const consumers = groups.flatMap((g) => g.consumers.map((c) => ({ group: g.group, ...c })));
  if (consumers.length > 0) {
    println();
    println(
      renderTable(consumers, [
        { header: 'GROUP', value: (c) => c.group },
        { header: 'CONSUMER', value: (c) => c.name },
        { header: 'PENDING', value: (c) => c.pending, align: 'right' },
        { header: 'IDLE', value: (c) => formatDuration(c.idleSeconds * 1000), align: 'right' },
      ]),
    );
  }
  const lines = notes(groups);
  if (lines.length === 0) return;
  println();
  for (const l of lines) println(`note: ${l}`);
}

/** Adds `herald groups`. */
export function registerGroupsCommand(program: Command): void {
  program
    .command('groups')
    .description(
      "show a topic's consumer groups: lag, pending, oldest pending age, consumers, partition owners",
    )
    .argument('<topic>', 'topic name')
    .option('--by-partition', 'one row per group and partition')
    .option('--json', 'print JSON (with per-partition figures and consumers)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Columns:
  LAG             events not yet delivered to the group, counted after its last
                  delivered id (Redis 7.0's own figure is wrong after an AOF
                  reload); "1000+" when there are more than Herald counts
  PENDING         delivered, not yet acknowledged
  OLDEST PENDING  age of the oldest pending event, since it was published
  CONSUMERS       consumers registered in the group (listed below with their idle time)

Ordered groups (ordered: true) also show, per partition:
  OWNER           the instance holding the partition's lease ("(none)": nobody)
  EPOCH           the fencing epoch, incremented at every take-over
  LEASE LEFT      time left on the owner's lease (renewed while it runs)

Examples:
  $ herald groups orders
  $ herald groups orders --by-partition
  $ herald groups orders --json | jq '.[] | {group, lag, pending}'`,
    )
    .action(async (name: string, opts: GroupsOptions, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        const topic = await resolveTopic(backend, name);
        const groups = await groupStats(backend.conn, backend.prefix, topic);
        if (opts.json) printJson(groups);
        else if (groups.length === 0) println(`topic '${topic.name}' has no consumer groups`);
        else printGroups(groups, opts.byPartition === true);
      });
    });
}
