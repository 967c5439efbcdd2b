/**
 * Re-renders a results file: recomputes the floors, comparisons and target checks
 * from its scenarios (so an older file gets the current ones), then writes
 * the Markdown report and the SVG chart.
 *
 *   node --import tsx bench/render.ts bench/results/latest.json [out.md] [out.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { checkTargets, chooseFloors, compare } from './aggregate.ts';
import { renderChart } from './chart.ts';
import { renderMarkdown } from './report.ts';
import type { BenchResults } from './runner.ts';

/** The results with comparisons and targets computed by the current code. */
function refresh(results: BenchResults): BenchResults {
  const floors = chooseFloors(results.scenarios);
  const comparisons = compare(results.scenarios, floors);
  return {
    ...results,
    floors,
    comparisons,
    targets: checkTargets(results.scenarios, comparisons),
  };
}

const [input, mdOut, svgOut] = process.argv.slice(2);
if (input === undefined) {
  process.stderr.write(
    'usage: node --import tsx bench/render.ts <results.json> [out.md] [out.svg]\n',
  );
  process.exitCode = 1;
} else {
  const results = refresh(JSON.parse(readFileSync(input, 'utf8')) as BenchResults);
  const markdown = renderMarkdown(results);
  if (mdOut) writeFileSync(mdOut, markdown);
  else process.stdout.write(markdown);
  if (svgOut) writeFileSync(svgOut, renderChart(results));
}
