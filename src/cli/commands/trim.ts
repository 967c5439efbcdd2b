import { InvalidArgumentError, type Command } from 'commander';
import { redisTime } from '../../ops/inspect.ts';
import { trimTopic, type GroupTrimLoss, type PartitionTrimResult } from '../../ops/retention.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Topic } from '../../core/topic.ts';
import type { RedisConnection } from '../../redis/connection.ts';
import { resolveTopic, withBackend } from '../context.ts';
import {
  formatDuration,
  note,
  parseDuration,
  parseNonNegativeInt,
  printJson,
  println,
  renderTable,
} from '../output.ts';

interface TrimCliOptions {
  maxLen?: number;
  maxAge?: number;
  unsafe?: boolean;
  approximate?: boolean;
  foreignStream?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** What one partition lost and kept over all the passes. */
interface PartitionTotal {
  partition: number;
  stream: string;
  trimmed: number;
  skippedBecauseUnread: number;
  trimmedUnacked: number;
  losses: GroupTrimLoss[];
  floorId: string | undefined;
  /** Dry run: `trimmed` (what would go) is a lower bound. */
  atLeast?: boolean;
}

/**
 * What a trim would remove now, per partition, removing nothing: one script call per
 * partition (exact counts up to the scan limit on either side of the cut, else a lower bound).
 */
async function trimDryRun(
  conn: RedisConnection,
  prefix: string,
  topic: Topic,
  opts: TrimCliOptions,
): Promise<PartitionTotal[]> {
  const results = await trimTopic(conn, prefix, topic, {
    ...(opts.maxLen !== undefined ? { maxLen: opts.maxLen } : {}),
    ...(opts.maxAge !== undefined ? { maxAgeMs: opts.maxAge } : {}),
    unsafe: opts.unsafe === true,
    approximate: false,
    now: await redisTime(conn),
    dryRun: true,
  });
  return results
    .map((r) => ({
      partition: r.partition,
      stream: r.stream,
      trimmed: r.trimmed,
      skippedBecauseUnread: r.skippedBecauseUnread,
      trimmedUnacked: 0,
      losses: [],
      floorId: r.floorId,
      atLeast: r.atLeast === true,
    }))
    .sort((a, b) => a.partition - b.partition);
}

/** Passes are bounded by the script's scan limit; a safety cap keeps a runaway loop finite. */
const MAX_PASSES = 10_000;

/**
 * Trims until a pass removes nothing: one pass examines at most the script's
 * scan limit per partition, so a long backlog takes several.
 */
async function trimFully(
  conn: RedisConnection,
  prefix: string,
  topic: Topic,
  opts: TrimCliOptions,
): Promise<PartitionTotal[]> {
  const now = await redisTime(conn);
  const totals = new Map<number, PartitionTotal>();
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const results: PartitionTrimResult[] = await trimTopic(conn, prefix, topic, {
      ...(opts.maxLen !== undefined ? { maxLen: opts.maxLen } : {}),
      ...(opts.maxAge !== undefined ? { maxAgeMs: opts.maxAge } : {}),
      unsafe: opts.unsafe === true,
      approximate: opts.approximate === true,
      now,
    });
    let removed = 0;
    for (const r of results) {
      removed += r.trimmed;
      const t = totals.get(r.partition) ?? {
        partition: r.partition,
        stream: r.stream,
        trimmed: 0,
        skippedBecauseUnread: 0,
        trimmedUnacked: 0,
        losses: [],
        floorId: undefined,
      };
      t.trimmed += r.trimmed;
      t.skippedBecauseUnread = r.skippedBecauseUnread;
      t.trimmedUnacked += r.trimmedUnacked;
      t.floorId = r.floorId;
      for (const l of r.losses) {
        const same = t.losses.find((x) => x.group === l.group);
        if (same)
          t.losses[t.losses.indexOf(same)] = {
            group: l.group,
            unread: same.unread + l.unread,
            pending: same.pending + l.pending,
          };
        else t.losses.push({ ...l });
      }
      totals.set(r.partition, t);
    }
    if (removed === 0) break;
  }
  return [...totals.values()].sort((a, b) => a.partition - b.partition);
}

function rules(opts: TrimCliOptions): string {
  const r: string[] = [];
  if (opts.maxLen !== undefined) r.push(`at most ${opts.maxLen} per partition`);
  if (opts.maxAge !== undefined) r.push(`younger than ${formatDuration(opts.maxAge)}`);
  return r.join(' and ');
}

/** Adds `herald trim`. */
export function registerTrimCommand(program: Command): void {
  program
    .command('trim')
    .description(
      "trim a topic's partitions by count and/or age, never past what a group still needs",
    )
    .argument('<topic>', 'topic name')
    .option('--max-len <n>', 'keep at most n events per partition', parseNonNegativeInt)
    .option('--max-age <duration>', 'keep events younger than this, e.g. 7d or 12h', parseDuration)
    .option('--unsafe', 'also trim events a consumer group has not read or acknowledged')
    .option('--approximate', 'trim whole stream nodes only: cheaper, keeps a few more events')
    .option(
      '--foreign-stream',
      'allow trimming a topic bound to a foreign stream key (that stream belongs to another program)',
    )
    .option('--dry-run', 'remove nothing: say how many events each partition would lose')
    .option('--json', 'print JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Safe by default: an event some consumer group has not read yet, or holds
pending, is never trimmed; the trim stops just before the oldest such event
and says how many were kept. --unsafe trims them anyway and reports, per group,
how many unacknowledged events were removed. A topic bound to a foreign stream
key (herald topics create --stream-key) trims another program's stream: that
needs --foreign-stream, so a registry record alone can never make trim delete it.

Examples:
  $ herald trim orders --max-len 100000
  $ herald trim orders --max-age 7d
  $ herald trim orders --max-age 7d --dry-run    # how many would go, removing nothing
  $ herald trim orders --max-age 1d --max-len 50000 --json
  $ herald trim orders --max-len 0 --unsafe      # empty it, even what groups still need`,
    )
    .action(async (name: string, opts: TrimCliOptions, cmd: Command) => {
      if (opts.maxLen === undefined && opts.maxAge === undefined) {
        throw new InvalidArgumentError(
          'say what to keep: --max-len <n> and/or --max-age <duration>',
        );
      }
      await withBackend(cmd, async (backend) => {
        const topic = await resolveTopic(backend, name);
        if (topic.streamKey !== undefined && opts.foreignStream !== true) {
          throw new ConfigError(
            `topic '${topic.name}' is bound to the foreign stream '${topic.streamKey}' (its registry ` +
              'record says so): trimming it deletes entries of that stream; check the record ' +
              '(herald topics) and add --foreign-stream to trim it',
          );
        }
        const dryRun = opts.dryRun === true;
        const parts = dryRun
          ? await trimDryRun(backend.conn, backend.prefix, topic, opts)
          : await trimFully(backend.conn, backend.prefix, topic, opts);
        const sum = (f: (p: PartitionTotal) => number): number =>
          parts.reduce((n, p) => n + f(p), 0);
        const trimmed = sum((p) => p.trimmed);
        const kept = sum((p) => p.skippedBecauseUnread);
        const unacked = sum((p) => p.trimmedUnacked);
        // Losses are warnings on stderr, also with --json.
        for (const p of parts) {
          for (const l of p.losses) {
            note(
              `warning: group '${l.group}' lost ${l.unread + l.pending} event(s) it had not acknowledged ` +
                `(${l.unread} unread, ${l.pending} pending)${topic.partitions > 1 ? ` on partition ${p.partition}` : ''}`,
            );
          }
        }
        const atLeast = parts.some((p) => p.atLeast === true);
        if (opts.json && dryRun) {
          printJson({
            topic: topic.name,
            dryRun: true,
            wouldTrim: trimmed,
            wouldTrimIsLowerBound: atLeast,
            keptForGroups: kept,
            partitions: parts.map((p) => ({
              partition: p.partition,
              stream: p.stream,
              wouldTrim: p.trimmed,
              wouldTrimIsLowerBound: p.atLeast === true,
              skippedBecauseUnread: p.skippedBecauseUnread,
              floorId: p.floorId,
            })),
          });
          return;
        }
        if (opts.json) {
          printJson({
            topic: topic.name,
            trimmed,
            keptForGroups: kept,
            trimmedUnacked: unacked,
            partitions: parts,
          });
          return;
        }
        const count = (p: PartitionTotal): string => `${p.trimmed}${p.atLeast ? '+' : ''}`;
        if (topic.partitions > 1) {
          println(
            renderTable(parts, [
              { header: 'PART', value: (p) => p.partition, align: 'right' },
              { header: dryRun ? 'WOULD TRIM' : 'TRIMMED', value: count, align: 'right' },
              { header: 'KEPT FOR GROUPS', value: (p) => p.skippedBecauseUnread, align: 'right' },
              { header: 'OLDEST NEEDED', value: (p) => p.floorId },
            ]),
          );
          println();
        }
        if (dryRun) {
          println(
            `dry run: would trim ${atLeast ? 'at least ' : ''}${trimmed} event(s) of '${topic.name}' ` +
              `(keep ${rules(opts)}); nothing was removed`,
          );
        } else {
          println(`trimmed ${trimmed} event(s) of '${topic.name}' (keep ${rules(opts)})`);
        }
        if (kept > 0) {
          println(
            `${dryRun ? 'would keep' : 'kept'} ${kept} event(s) the rules would remove: consumer groups have not read or acknowledged them ` +
              `(see herald groups ${topic.name}; --unsafe trims them anyway)`,
          );
        }
      });
    });
}
