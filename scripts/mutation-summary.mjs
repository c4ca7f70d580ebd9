// Summarises Stryker's last report (issue #23): per-file mutation score and every surviving or uncovered
// mutant, each marked with the reason it is equivalent or harmless when results/mutation/equivalent.json
// gives one, and "open" otherwise. Writes results/mutation/summary.md and prints the score table.
//   node scripts/mutation-summary.mjs [report.json]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mutantKey, reasonFor, recheckResults, sameMutant } from './mutation-notes.mjs';

const reportPath = process.argv[2] ?? 'results/mutation/mutation.json';
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
// Survivors that scripts/recheck-survivors.mjs applied by hand after the run and found killed by tests written since.
const recheck = recheckResults();
const recheckTests = [...new Set(recheck.flatMap((r) => r.tests))];
const rechecked = (file, source, m) => recheck.find((r) => sameMutant(r, mutantKey(file, source, m)));

const rows = [], open = [], explained = [], killedLater = [];
const total = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0, later: 0 };
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const c = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0, later: 0 };
  const lines = source.split('\n');
  for (const m of mutants) {
    const k = m.status in c ? m.status : 'other';
    c[k]++; total[k]++;
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
    const line = m.location.start.line, reason = reasonFor(file, m), later = !reason && rechecked(file, source, m);
    const item = `| ${file}:${line} | ${m.status} | ${m.mutatorName} | \`${m.replacement.replace(/\s+/g, ' ').slice(0, 50).replace(/\|/g, '\\|')}\` | \`${lines[line - 1].trim().slice(0, 70).replace(/\|/g, '\\|')}\` | ${reason ?? (later ? (later.killed ? 'killed on re-check' : '**open** (survived the re-check)') : '**open**')} |`;
    (reason ? explained : later?.killed ? killedLater : open).push(item);
    if (!reason && later?.killed) { c.later++; total.later++; }
  }
  rows.push([file, c]);
}
const score = (c, extra = 0) => (100 * (c.Killed + c.Timeout + extra)) / (c.Killed + c.Timeout + c.Survived + c.NoCoverage);
const table = [
  '| file | mutants | killed | timeout | survived | no coverage | score % | with re-check % |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...[...rows, ['all files measured', total]].map(([f, c]) =>
    `| ${f} | ${c.Killed + c.Timeout + c.Survived + c.NoCoverage + c.other} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${score(c).toFixed(1)} | ${score(c, c.later).toFixed(1)} |`),
];
// The scope (stryker.config.json's mutate: whole folders and single files) against the files this report holds.
const scope = JSON.parse(readFileSync('stryker.config.json', 'utf8')).mutate.flatMap((g) => {
  const folder = g.endsWith('/**/*.ts') ? g.slice(0, -'/**/*.ts'.length) : null;
  return folder ? readdirSync(folder, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => `${folder}/${f}`) : [g];
});
const notRun = scope.filter((f) => !(f in report.files)).sort();
const head = '| place | status | mutator | replacement | source line | why it may stay |\n|---|---|---|---|---|---|';
const md = [
  '# Mutation testing: the last Stryker report',
  '',
  `Made by \`node scripts/mutation-summary.mjs\` from \`${reportPath}\` (Stryker's score: killed + timed out over all`,
  `covered and uncovered mutants). Scope (stryker.config.json): ${scope.length} files; ${notRun.length ? `not in this report: ${notRun.join(', ')}` : 'every one is in this report'}.`,
  '',
  ...table,
  '',
  `## Survivors without a reason (${open.length})`,
  '',
  ...(open.length ? [head, ...open] : ['None.']),
  '',
  `## Survivors killed on re-check (${killedLater.length}; \`node scripts/recheck-survivors.mjs\` applied each by hand to the unchanged source after the run: the tests written since, ${recheckTests.join(', ') || 'none'}, fail on it; Stryker's score above still counts them as survivors until the next run)`,
  '',
  ...(killedLater.length ? [head, ...killedLater] : ['None.']),
  '',
  `## Survivors with a reason (${explained.length}; reasons in results/mutation/equivalent.json)`,
  '',
  head,
  ...explained,
  '',
].join('\n');
writeFileSync('results/mutation/summary.md', md);
console.log(table.join('\n'));
console.log(`${open.length} survivors without a reason, ${killedLater.length} killed on re-check; wrote results/mutation/summary.md`);
