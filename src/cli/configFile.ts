// Reading a run config file named by --config (train, encode): a JSON object of sections, or a one-line error.
import { readJsonFile } from '../util/safeRead.js';
import type { RunConfigInput } from '../train/config.js';
import { UsageError } from './args.js';

export function readConfigFile(path: string): RunConfigInput {
  let c: unknown;
  try {
    c = readJsonFile(path, '--config:');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new UsageError(`--config: '${path}' must hold a JSON object with sections model, data, tokenizer, train, coord; got ${JSON.stringify(c)?.slice(0, 40)}`);
  return c as RunConfigInput;
}
