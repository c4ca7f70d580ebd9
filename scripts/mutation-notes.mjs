// What the mutation scripts share (issue #23): the reasons in results/mutation/equivalent.json, and how a
// Stryker mutant is identified in results/mutation/recheck.json (its file's source hash and its location).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/** @type {{ file: string, line: number, mutator?: string, replacement?: string, why: string }[]} (no mutator: every mutator on that line) */
export const notes = JSON.parse(readFileSync('results/mutation/equivalent.json', 'utf8')).mutants;

/** The reason a surviving mutant of `file` may stay, if equivalent.json gives one. */
export const reasonFor = (file, m) => notes.find((n) => n.file === file && n.line === m.location.start.line
  && (n.mutator === undefined || n.mutator === m.mutatorName) && (n.replacement === undefined || n.replacement === m.replacement))?.why;

const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** A mutant of `file` (whose reported source is `source`) as recheck.json identifies it. */
export const mutantKey = (file, source, m) => ({ file, sourceSha: sha(source), line: m.location.start.line, column: m.location.start.column,
  mutator: m.mutatorName, replacement: m.replacement });

export const sameMutant = (a, b) => a.file === b.file && a.sourceSha === b.sourceSha && a.line === b.line && a.column === b.column
  && a.mutator === b.mutator && a.replacement === b.replacement;

/** Earlier re-check results (scripts/recheck-survivors.mjs), each a mutantKey with tests, killed and seconds. */
export const recheckResults = () => (existsSync('results/mutation/recheck.json') ? JSON.parse(readFileSync('results/mutation/recheck.json', 'utf8')).results : []);
