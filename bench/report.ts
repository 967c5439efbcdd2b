/** The Markdown report: the tables printed to stdout and written to latest.md. */
import { isResult, type ScenarioRecord } from './aggregate.ts';
import { auto, num, spreadText } from './format.ts';
import type { BenchResults } from './runner.ts';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(header),
    line(header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows.map(line),
  ].join('\n');
}

function failures(s: ScenarioRecord): string {
  const errors = s.runs.filter((r) => !isResult(r)).length;
  return errors > 0 ? ` ⚠ ${errors}/${s.runs.length} runs failed` : '';
}

/** How the AOF was rewritten during the run, when the runner kept rewrites out of the scenarios. */
function aofRewrites(r: BenchResults): string {
  const n = r.redis.aofRewritesBetweenScenarios;
  return n === undefined
    ? ''
    : `, automatic rewrites off: rewritten only between scenarios (${n} time${n === 1 ? '' : 's'})`;
}

export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`## Herald benchmark, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  out.push('');
  out.push(
    `${m.cpus} CPU(s) ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; Redis ${r.redis.version} ` +
      `(${r.redis.embedded ? 'private redis-server' : r.redis.url}, AOF ${r.redis.aof}, appendfsync ${r.redis.appendfsync}${aofRewrites(r)}). ` +
      `${r.options.runs} run(s) per scenario, ${num(r.options.events)} events per throughput run of the rows the targets compare (a quarter for the others, fewer for slow peers)` +
      `${r.options.quick ? ' (--quick: shape only, not speed)' : ''}. Figures: median (min–max) over the runs.` +
      (m.revision
        ? ` Source: ${m.revision.commit}${m.revision.changedFiles > 0 ? ` + ${m.revision.changedFiles} changed file(s) under src/` : ''}.`
        : '') +
      ` Load average at start: ${m.loadAverageAtStart.join(', ')}.`,
  );
  const through = r.scenarios.filter((s) => s.kind === 'throughput');
  if (through.length > 0) {
    out.push('', '### Throughput', '');
    out.push(
      table(
        [
          'Scenario',
          'events/s',
          'Node CPU µs/event',
          'redis-server CPU % of a core',
          'Redis commands/event',
        ],
        through.map((s) => [
          `${s.title} \`${s.id}\`${failures(s)}`,
          spreadText(s.summary.rate, (v) => num(v)),
          spreadText(s.summary.nodeCpuUsPerEvent),
          spreadText(s.summary.redisCpuPct, (v) => num(v)),
          spreadText(s.summary.commandsPerEvent, (v) => num(v, 3)),
        ]),
      ),
    );
  }
  const split = r.scenarios.filter((s) => s.summary.producerCpuUsPerEvent !== undefined);
  if (split.length > 0) {
    out.push('', '### Separate processes: Node CPU per event of each side', '');
    out.push(
      table(
        ['Scenario', 'producer µs/event', 'consumers µs/event (together)', 'events/s'],
        split.map((s) => [
          `${s.title} \`${s.id}\`${failures(s)}`,
          spreadText(s.summary.producerCpuUsPerEvent),
          spreadText(s.summary.consumerCpuUsPerEvent),
          spreadText(s.summary.rate, (v) => num(v)),
        ]),
      ),
    );
  }
  const latency = r.scenarios.filter((s) => s.kind === 'latency');
  if (latency.length > 0) {
    out.push('', '### Latency, publish call → handler (ms), open loop', '');
    out.push(
      table(
        [
          'Scenario',
          'offered ev/s',
          'p50',
          'p90',
          'p99',
          'max',
          'Node CPU µs/event',
          'redis-server CPU %',
        ],
        latency.map((s) => [
          `${s.title} \`${s.id}\`${failures(s)}`,
          spreadText(s.summary.rate, (v) => num(v)),
          spreadText(s.summary.p50),
          spreadText(s.summary.p90),
          spreadText(s.summary.p99),
          spreadText(s.summary.max),
          spreadText(s.summary.nodeCpuUsPerEvent),
          spreadText(s.summary.redisCpuPct, (v) => num(v)),
        ]),
      ),
    );
  }
  const memory = r.scenarios.find((s) => s.kind === 'memory');
  if (memory && memory.summary.heraldBytesPerEvent) {
    const s = memory.summary;
    out.push('', '### Memory per stored event (MEMORY USAGE / XLEN)', '');
    out.push(
      table(
        ['Payload', 'Herald envelope, bytes', 'raw XADD, bytes', 'Herald / raw'],
        [
          [
            '~100 B JSON',
            spreadText(s.heraldBytesPerEvent),
            spreadText(s.rawBytesPerEvent),
            spreadText(s.memoryRatio),
          ],
          [
            '~1 KB JSON',
            spreadText(s.heraldBytesPerEvent1k),
            spreadText(s.rawBytesPerEvent1k),
            spreadText(s.memoryRatio1k),
          ],
        ],
      ),
    );
  }
  if (r.floors.length > 0) {
    out.push('', '### The floor: the faster careful raw loop of this run', '');
    out.push(
      table(
        ['Floor', 'chosen', 'median events/s of each candidate'],
        r.floors.map((f) => [
          f.alias,
          `\`${f.id}\``,
          f.candidates.map((c) => `\`${c.id}\` ${num(c.rate)}`).join(' · '),
        ]),
      ),
    );
  }
  if (r.comparisons.length > 0) {
    out.push('', '### Herald against the raw loop and the peers (ratios taken run by run)', '');
    out.push(
      table(
        ['Comparison', 'ratio', 'reading'],
        r.comparisons.map((c) => [c.title, spreadText(c.value), c.unit]),
      ),
    );
  }
  if (r.targets.length > 0) {
    out.push('', '### Targets (issue #11, against the floor)', '');
    out.push(
      table(
        ['Target', 'limit', 'measured (median)', ''],
        r.targets.map((t) => [
          t.title,
          t.limit,
          t.unit === 'ms' ? `${auto(t.measured)} ms` : `${auto(t.measured)}×`,
          t.pass ? 'met' : '**missed**',
        ]),
      ),
    );
  }
  out.push('');
  return out.join('\n');
}
