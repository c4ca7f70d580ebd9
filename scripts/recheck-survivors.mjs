// Re-checks the surviving mutants of the last Stryker report against chosen test files, without a full
// Stryker run (issue #23): each survivor without a reason in results/mutation/equivalent.json is applied to
// its source file in place, the test files run, the file is restored. A mutant is killed when the tests fail.
// Only files whose source is still the one the report mutated are re-checked (else the locations are stale).
// Writes results/mutation/recheck.json, which scripts/mutation-summary.mjs reads. Do not run it next to
// anything that reads src/ (npm test): the sources are mutated in place while it runs.
//   node scripts/recheck-survivors.mjs [--only FILE[:LINE,LINE…]] test/a.test.ts [test/b.test.ts …]
// --only re-checks one source file's survivors (on the given lines), for slow tests such as test/crash.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mutantKey, reasonFor, recheckResults, sameMutant } from './mutation-notes.mjs';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt < 0 ? null : args.splice(onlyAt, 2)[1] ?? '';
const [onlyFile = null, lines] = only?.split(':') ?? [];
const onlyLines = lines === undefined ? null : lines.split(',').map(Number);
const tests = args;
if (!tests.length || only === '') { console.error('usage: node scripts/recheck-survivors.mjs [--only FILE[:LINE,…]] TEST_FILE…'); process.exit(2); }
const wanted = (file, m) => (onlyFile === null || file === onlyFile) && (onlyLines === null || onlyLines.includes(m.location.start.line));
const report = JSON.parse(readFileSync('results/mutation/mutation.json', 'utf8'));

/** Offset of a 1-based (line, column) in text. */
function offset(text, { line, column }) {
  let o = 0;
  for (let l = 1; l < line; l++) o = text.indexOf('\n', o) + 1;
  return o + column - 1;
}

const earlier = recheckResults();
const results = [];
let restore = null;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { restore?.(); process.exit(130); });
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  const current = readFileSync(file, 'utf8');
  // Survivors already killed on an earlier re-check stay killed (tests are only added).
  const killedBefore = (m) => earlier.some((e) => e.killed && sameMutant(e, mutantKey(file, source, m)));
  const todo = mutants.filter((m) => (m.status === 'Survived' || m.status === 'NoCoverage') && wanted(file, m) && !reasonFor(file, m) && !killedBefore(m));
  if (!todo.length) continue;
  if (current !== source) { console.log(`${file}: changed since the report, ${todo.length} survivors not re-checked`); continue; }
  for (const m of todo) {
    const a = offset(source, m.location.start), b = offset(source, m.location.end);
    restore = () => writeFileSync(file, source);
    writeFileSync(file, source.slice(0, a) + m.replacement + source.slice(b));
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--test', '--test-concurrency=1', ...tests],
      { encoding: 'utf8', timeout: 300_000, env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    restore();
    restore = null;
    const killed = r.status !== 0;
    results.push({ ...mutantKey(file, source, m), tests, killed, seconds: Math.round((Date.now() - t0) / 100) / 10 });
    console.log(`${killed ? 'killed  ' : 'SURVIVED'} ${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${JSON.stringify(m.replacement).slice(0, 40)}`);
  }
}
// Earlier re-checks of other mutants are kept (a mutant re-checked again gets its new result).
const merged = [...earlier.filter((e) => !results.some((r) => sameMutant(e, r))), ...results];
writeFileSync('results/mutation/recheck.json', JSON.stringify({ date: new Date().toISOString(), results: merged }, null, 1) + '\n');
const k = results.filter((x) => x.killed).length;
console.log(`${k} of ${results.length} re-checked survivors killed by ${tests.join(', ')}; wrote results/mutation/recheck.json`);
