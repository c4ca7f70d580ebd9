#!/usr/bin/env node
// The semantic mutants that matter most (issue #23): each breaks the method in one named way, and the test
// suite must fail for it. For each: patch one file (exact text), run the test files that should catch it,
// expect a failure, restore the file. Prints a table; exits 1 if any mutant survives.
// Usage: node scripts/semantic-mutants.mjs   (about 3 minutes on 2 cores)
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const MUTANTS = [
  { name: 'backbone output zeroed (NestAR)', file: 'src/model/nestar.ts',
    from: 'const h = this.backbones[i]!.forward(input, onehot, s);', to: 'const h = tf.mul(this.backbones[i]!.forward(input, onehot, s), 0) as tf.Tensor3D;',
    tests: ['test/training.test.ts'], pattern: 'drives the loss' },
  { name: 'NestAR mask made token-causal', file: 'src/model/nestar.ts',
    from: 'maxInputTokens: mod.inputTokens, blockSize: mod.patch,', to: 'maxInputTokens: mod.inputTokens, blockSize: 1,',
    tests: ['test/blockCausal.test.ts'] },
  { name: 'LayerNorm gradient term dropped', file: 'src/model/layers.ts',
    from: 'tf.mul(rs, tf.sub(tf.sub(dxh, tf.mean(dxh, 1, true)), tf.mul(xh, tf.mean(tf.mul(dxh, xh), 1, true))))', to: 'tf.mul(rs, tf.sub(dxh, tf.mean(dxh, 1, true)))',
    tests: ['test/gradients.test.ts'] },
  { name: 'CFG combination sign flipped', file: 'src/model/generator.ts',
    from: 'return tf.add(vu, tf.mul(tf.sub(vc, vu), w)) as tf.Tensor2D;', to: 'return tf.add(vu, tf.mul(tf.sub(vu, vc), w)) as tf.Tensor2D;',
    tests: ['test/ode.test.ts'] },
  { name: 'KV cache offset by one token', file: 'src/model/transformer.ts',
    from: 'h = tf.add(h, tf.add(tf.slice(this.ownPos, [start, 0], [newRows, C]), tf.slice(this.tgtPos, [start, 0], [newRows, C])));',
    to: 'h = tf.add(h, tf.add(tf.slice(this.ownPos, [Math.max(0, start - 1), 0], [newRows, C]), tf.slice(this.tgtPos, [Math.max(0, start - 1), 0], [newRows, C])));',
    tests: ['test/baselines.test.ts'], pattern: 'KV cache' },
  { name: 'token-order map perturbed (two entries swapped)', file: 'src/model/tokenOrder.ts',
    from: '    map[i] = m;\n', to: '    map[i] = m;\n  }\n  if (order === \'interleaved\' && n > 2) { const t = map[1]!; map[1] = map[2]!; map[2] = t;\n',
    tests: ['test/tokenOrder.test.ts'] },
];

let survived = 0;
console.log('| mutant | file | killed by | result |\n|---|---|---|---|');
for (const m of MUTANTS) {
  const orig = readFileSync(m.file, 'utf8');
  if (!orig.includes(m.from)) { console.log(`| ${m.name} | ${m.file} | – | PATCH TARGET NOT FOUND |`); survived++; continue; }
  writeFileSync(m.file, orig.replace(m.from, m.to));
  let r;
  try {
    const args = ['--expose-gc', '--import', 'tsx', '--test', '--test-concurrency=1', ...(m.pattern ? ['--test-name-pattern', m.pattern] : []), ...m.tests];
    r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 900_000 });
  } finally {
    writeFileSync(m.file, orig);
  }
  const killed = r.status !== 0 && /# fail [1-9]/.test(r.stdout);
  if (!killed) survived++;
  console.log(`| ${m.name} | ${m.file} | ${m.tests.join(', ')}${m.pattern ? ` (${m.pattern})` : ''} | ${killed ? 'killed' : 'SURVIVED'} |`);
}
console.log(`\n${MUTANTS.length - survived} of ${MUTANTS.length} semantic mutants killed`);
process.exit(survived ? 1 : 0);
