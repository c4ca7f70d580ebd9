// Messages between the page and the generation worker.
import type { Method } from '../../src/model/generator.js';

export interface ModelInfo {
  method: Method;
  sequentialSteps: number;
  formula: string;
  params: number;
  step: number;
  numClasses: number;
  /** Class names in label order (digits when the checkpoint records none). */
  classNames: string[];
  imageSize: number;
  channels: number;
}

export interface GenerateRequest {
  type: 'generate';
  id: number;
  method: Method;
  count: number;
  /** A class for every sample, or -1 (unconditional). */
  classes: number[];
  cfg: number;
  /** 'linear': the guidance scale ramps from 1 at the first sequential call to cfg at the last (as `--cfg-schedule`). */
  cfgSchedule: 'constant' | 'linear';
  temperature: number;
  odeSteps: number;
  seed: number;
}

export type ToWorker = { type: 'load'; backend: string | null } | GenerateRequest | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'ready'; backend: string; tried: string[]; models: ModelInfo[] }
  | { type: 'error'; id?: number; message: string }
  | { type: 'step'; id: number; calls: number; totalCalls: number; module: number; patch: number; elapsedMs: number; images: Float32Array; made: Uint8Array }
  | { type: 'done'; id: number; settings: Omit<GenerateRequest, 'type' | 'id' | 'method'>; calls: number; expectedCalls: number; headEvals: number; elapsedMs: number; images: Float32Array; tokens: Float32Array }
  | { type: 'cancelled'; id: number };

export const FORMULAS: Record<Method, string> = { nestar: 'n1 + (M−1)(k−1)', raster: 'n', nextscale: 'log2(side) + 1' };
