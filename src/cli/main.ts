#!/usr/bin/env node
// nestar CLI entry. Every failure becomes one line on stderr and a non-zero exit: 2 for usage errors,
// 1 for everything else (never a tfjs stack trace; NESTAR_DEBUG=1 prints the stack).
import { demoCommand, sampleCommand, SAMPLE_HELP, trainCommand, TRAIN_HELP } from './commands.js';
import { UsageError } from './args.js';
import { BENCHES } from '../bench/index.js';
import { diagnoseCommand, DIAGNOSE_HELP } from './diagnoseCommand.js';
import { webCommand, WEB_HELP } from './webCommand.js';
import { exportCommand, EXPORT_HELP } from './exportCommand.js';
import { encodeCommand, ENCODE_HELP, evalTokenizerCommand, EVAL_TOKENIZER_HELP, trainTokenizerCommand, TRAIN_TOKENIZER_HELP } from './tokenizerCommands.js';
import { evalCommand, EVAL_HELP, FEATURES_HELP, trainFeaturesCommand } from './evalCommands.js';
import { VERBS } from './verbs.js';
import { wasmHeapHint } from '../engine/heapError.js';

const BENCH_HELP = `nestar bench [speed|engine|profile] [--quick]
  speed   NestAR vs raster AR vs next-scale AR on token grids 4x4..32x32 (results/bench.json); --head token|patch, --order zorder|interleaved
  engine  the reference transformer's training step on every engine path and in PyTorch CPU (results/engine.json)
  profile per-kernel share of a training step and a batch-1 sample of the results config, and the time outside kernels (results/profile-<method>.json)`;

const HELP = `nestar — Nested AutoRegressive image generation (arXiv 2510.23028) in TypeScript

  nestar demo     sample a grid from the shipped NestAR checkpoint (seconds); --train trains one (about 10 minutes)
  nestar train    train a model (see nestar train --help)
  nestar sample   sample a PNG grid from a checkpoint (see nestar sample --help)
  nestar eval     score samples (FD, IS, precision/recall, density/coverage…) against MNIST test images
  nestar diagnose  exposure gap per module: loss with ground-truth vs model-sampled prefixes
  nestar train-tokenizer   train the KL autoencoder tokenizer (latent tokens); eval-tokenizer reports PSNR/FD
  nestar encode   cache a dataset's latent tokens for nestar train --tokenizer
  nestar export   reduce a checkpoint to what sampling needs (state.json + EMA weights)
  nestar web       build and serve the browser page (live generation, nested stages) on localhost
  nestar train-features   train the evaluation feature net (once; eval does it when missing)
  nestar bench [speed|engine] [--quick]   speed report (results/bench.json) or engine report (results/engine.json)

${TRAIN_HELP}

${SAMPLE_HELP}

${EVAL_HELP}

${DIAGNOSE_HELP}

${WEB_HELP}

${EXPORT_HELP}

${TRAIN_TOKENIZER_HELP}

${EVAL_TOKENIZER_HELP}

${ENCODE_HELP}

${FEATURES_HELP}`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'train': return trainCommand(rest);
    case 'sample': return sampleCommand(rest);
    case 'demo': return demoCommand(rest);
    case 'eval': return evalCommand(rest);
    case 'diagnose': return diagnoseCommand(rest);
    case 'web': return webCommand(rest);
    case 'export': return exportCommand(rest);
    case 'train-tokenizer': return trainTokenizerCommand(rest);
    case 'eval-tokenizer': return evalTokenizerCommand(rest);
    case 'encode': return encodeCommand(rest);
    case 'train-features': return trainFeaturesCommand(rest);
    case 'bench': {
      const [name = 'speed', ...args] = rest;
      if (name === '--help' || name === '-h' || ((args.includes('--help') || args.includes('-h')) && name !== 'profile')) return void console.log(BENCH_HELP);
      const run = BENCHES[name];
      if (!run) throw new UsageError(`unknown benchmark '${name}'; expected one of: ${Object.keys(BENCHES).join(', ')}`);
      return void (await run(args));
    }
    case undefined: case 'help': case '--help': case '-h': return void console.log(HELP);
    default: throw new UsageError(`unknown command '${cmd}'; expected one of: ${VERBS.join(', ')}`);
  }
}

// Ctrl-C and kill end through process.exit, so exit hooks (the run lock's release) run; SIGKILL leaves a lock
// whose owner is gone, which the next run takes over.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main(process.argv.slice(2)).then(() => process.exit(0), (e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  if (process.env.NESTAR_DEBUG === '1') console.error(err.stack);
  const first = err.message.split('\n')[0]!, hint = wasmHeapHint(first);
  console.error(`nestar: ${err instanceof UsageError ? '' : 'error: '}${first}${hint ? ` (${hint})` : ''}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
