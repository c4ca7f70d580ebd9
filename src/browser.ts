// nestar/browser: everything needed to sample from a checkpoint in a page or worker, with no Node built-ins in
// its import graph (test/browserEntry.test.ts bundles it for the browser and fails on any). Pick a tfjs backend
// yourself (import '@tensorflow/tfjs-backend-webgl', -webgpu, or -wasm with setWasmPaths) before generating.
export { NestARPipeline, type GenerateOptions, type GenerateResult } from './pipelineCore.js';
export { pipelineFromBytes, fetchPipeline, type Bytes, type CheckpointBytes, type CheckpointUrls } from './checkpointBytes.js';
export { METHODS, type Generator, type Method, type SampleOptions, type SampleProgress, type SampleResult } from './model/generator.js';
export { integrateFlow, timeGrid, ODE_SOLVERS, type OdeSolver, type VelocityFn, type IntegrateOptions } from './flow/flowMatching.js';
export { modulePlan, sequentialCalls, mortonToRowCol, rowColToMorton, type ModulePlan } from './model/zorder.js';
export { gridRgba } from './util/imageGrid.js';
export { decodeSafetensors, encodeSafetensors, type NamedArray } from './util/safetensors.js';
export { Rng } from './util/rng.js';
export type { ImageBatch } from './util/imageBatch.js';
export type { RunConfig } from './train/config.js';
