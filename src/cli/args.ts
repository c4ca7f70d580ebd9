// Flag parsing on node:util parseArgs (strict: unknown flags are errors), with typed number/choice readers
// that name the flag in their error.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: Options): Record<string, string | boolean | undefined> {
  // A negative number after a flag that takes a value is that value (parseArgs would call it an ambiguous
  // option), so `--steps -1` is reported as a bad value of --steps.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.startsWith('--') && !argv[i]!.includes('=') ? argv[i]!.slice(2) : null;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      args.push(`--${name}=${next}`);
      i++;
    } else args.push(argv[i]!);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function num(v: string | boolean | undefined, flag: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(x) || (opts.int && !Number.isInteger(x))
    || (opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${flag} expects ${opts.int ? 'an integer' : 'a number'}${range ? ' ' + range : ''}, got '${String(v)}'`);
  }
  return x;
}

export function choice<T extends string>(v: string | boolean | undefined, flag: string, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${flag} expects one of ${choices.join(', ')}, got '${String(v)}'`);
  }
  return v as T;
}
