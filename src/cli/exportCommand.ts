// `nestar export`: a checkpoint reduced to what sampling needs (the form checkpoints are shipped in).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { exportCheckpoint } from '../train/exportCheckpoint.js';
import { initBackend } from '../engine/backend.js';
import { parse, UsageError } from './args.js';

export const EXPORT_HELP = 'nestar export --checkpoint PATH --out DIR [--fp16]: copy state.json + EMA weights (+ tokenizer) for sampling only;\n' +
  '  DIR must be new, empty or a previous export (nestar never deletes files it did not write), outside the checkpoint;\n' +
  '  --fp16 stores the weights in half precision (half the size; check sampling quality with nestar eval before shipping)';

export async function exportCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { checkpoint: { type: 'string' }, out: { type: 'string' }, fp16: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(EXPORT_HELP);
  if (typeof a.checkpoint !== 'string' || typeof a.out !== 'string') throw new UsageError('--checkpoint PATH and --out DIR are required');
  await initBackend(); // export validates the weights against the model they claim to be
  const { dir, files } = exportCheckpoint(a.checkpoint, a.out, { dtype: a.fp16 ? 'F16' : 'F32' });
  const mb = files.reduce((s, f) => s + statSync(join(dir, f)).size, 0) / 2 ** 20;
  console.log(`exported ${files.join(', ')} (${mb.toFixed(1)} MiB${a.fp16 ? ', weights in F16' : ''}) to ${dir}`);
}
