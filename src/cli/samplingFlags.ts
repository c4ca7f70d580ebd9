// The sampling flags `sample`, `eval` and `web`-less commands share, read and checked in one place.
import { ODE_SOLVERS } from '../flow/flowMatching.js';
import type { SampleOptions } from '../model/generator.js';
import { choice, num, UsageError, type Options } from './args.js';

export const SAMPLING_FLAGS: Options = {
  'cfg-schedule': { type: 'string' }, 'cfg-interval': { type: 'string' }, temperature: { type: 'string' }, 'ode-steps': { type: 'string' },
  solver: { type: 'string' }, 'time-shift': { type: 'string' }, 'sde-noise': { type: 'string' }, seed: { type: 'string' },
};

export const SAMPLING_USAGE = `[--cfg-schedule constant|linear] [--cfg-interval LO,HI] [--temperature 1] [--ode-steps 32]
  [--solver euler|heun|sde] [--time-shift 1] [--sde-noise 1] [--seed 0]`;

export type SamplingSettings = Required<Pick<SampleOptions, 'cfgSchedule' | 'temperature' | 'odeSteps' | 'solver' | 'seed'>>
  & Pick<SampleOptions, 'cfgInterval' | 'timeShift' | 'sdeNoise'>;

export function readSamplingFlags(a: Record<string, string | boolean | undefined>): SamplingSettings {
  let cfgInterval: [number, number] | undefined;
  if (a['cfg-interval'] !== undefined) {
    const parts = String(a['cfg-interval']).split(',').map((x) => Number(x.trim()));
    if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0]! >= 0 && parts[0]! < parts[1]! && parts[1]! <= 1)) {
      throw new UsageError(`--cfg-interval expects LO,HI with 0 <= LO < HI <= 1 (flow time: 0 = noise, 1 = data), got '${String(a['cfg-interval'])}'`);
    }
    cfgInterval = [parts[0]!, parts[1]!];
  }
  const timeShift = num(a['time-shift'], 'time-shift', { min: 1e-3, max: 1e3 });
  const sdeNoise = num(a['sde-noise'], 'sde-noise', { min: 0, max: 100 });
  const solver = choice(a.solver, 'solver', ODE_SOLVERS) ?? 'euler';
  if (sdeNoise !== undefined && solver !== 'sde') throw new UsageError('--sde-noise applies to --solver sde only');
  return {
    cfgSchedule: choice(a['cfg-schedule'], 'cfg-schedule', ['constant', 'linear'] as const) ?? 'constant',
    temperature: num(a.temperature, 'temperature', { min: 0 }) ?? 1, odeSteps: num(a['ode-steps'], 'ode-steps', { int: true, min: 1, max: 10000 }) ?? 32,
    solver, seed: num(a.seed, 'seed', { int: true, min: 0 }) ?? 0,
    ...(cfgInterval ? { cfgInterval } : {}), ...(timeShift !== undefined ? { timeShift } : {}), ...(sdeNoise !== undefined ? { sdeNoise } : {}),
  };
}
