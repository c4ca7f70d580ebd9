// nestar: Nested AutoRegressive image generation (arXiv 2510.23028) on TensorFlow.js.
export { initBackend, describeBackend, parseBackendName, BACKENDS, type BackendName, type BackendInfo } from './engine/backend.js';
export { NestAR, type SampleOptions, type SampleProgress, type SampleResult, type LossOptions } from './model/nestar.js';
export { resolveNestARConfig, defaultNestARConfig, ConfigError, type NestARConfig, type ResolvedModule } from './model/config.js';
export { modulePlan, sequentialCalls, mortonToRowCol, rowColToMorton, mortonToRaster, type ModulePlan } from './model/zorder.js';
export { BlockCausalTransformer } from './model/transformer.js';
export { FlowHead } from './flow/flowHead.js';
export { flowMatchingLoss, integrateFlow, type OdeSolver, type VelocityFn } from './flow/flowMatching.js';
export { PatchTokenizer, type ImageBatch } from './tokenizer/patchTokenizer.js';
export { loadMnist } from './data/mnist.js';
export { loadImageFolder } from './data/imageFolder.js';
export type { ImageDataset } from './data/dataset.js';
export { resolveRunConfig, defaultTrainConfig, type RunConfig, type TrainConfig, type DataConfig } from './train/config.js';
export { Trainer, type StepLog } from './train/trainer.js';
export { loadCheckpoint, saveCheckpoint } from './train/checkpoint.js';
export { NestARPipeline, type GenerateResult } from './pipeline.js';
export { writeImageGrid, gridRgba, encodePng } from './util/png.js';
export { encodeSafetensors, decodeSafetensors } from './util/safetensors.js';
export { Rng } from './util/rng.js';
