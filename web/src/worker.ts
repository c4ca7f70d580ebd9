// The generation loop, off the page's thread: picks the best tfjs backend, loads the checkpoints the
// server lists, and runs the library's sampler, posting the canvas after every sequential step.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { fetchPipeline, type Method, type NestARPipeline } from '../../src/browser.js';
import { FORMULAS, type FromWorker, type GenerateRequest, type ToWorker } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
const pipelines = new Map<Method, NestARPipeline>();
let cancelled = -1;

class Cancelled extends Error {}

/**
 * The WebGL renderer's name when it is a software rasteriser (SwiftShader, llvmpipe, …), else null. On
 * GPU-less or headless machines WebGL is emulated on the CPU and is several times slower than WASM
 * (16 images: 22.2 s on software WebGL vs 2.6 s on WASM on this project's machine), so it is skipped.
 */
function softwareWebGL(): string | null {
  try {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2') ?? new OffscreenCanvas(1, 1).getContext('webgl');
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer) ? renderer : null;
  } catch {
    return null;
  }
}

/** WebGPU → WebGL (unless a software renderer) → WASM → CPU, or the one asked for; returns the backend in use and what was tried, with why each was passed over. */
async function pickBackend(wanted: string | null): Promise<{ name: string; tried: string[] }> {
  setWasmPaths('/tfjs-wasm/');
  const order = wanted ? [wanted] : ['webgpu', 'webgl', 'wasm', 'cpu'];
  const tried: string[] = [];
  for (const name of order) {
    tried.push(name);
    // Without an adapter (no GPU, or headless), WebGPU's factory would throw; skip it quietly.
    if (name === 'webgpu' && !wanted && !(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter().catch(() => null))) {
      tried[tried.length - 1] = 'webgpu (no GPU adapter)';
      continue;
    }
    const soft = name === 'webgl' && !wanted ? softwareWebGL() : null;
    if (soft) {
      tried[tried.length - 1] = `webgl (software renderer ${soft.slice(0, 40)}: slower than WASM)`;
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { name: tf.getBackend(), tried };
      }
      tried[tried.length - 1] = `${name} (did not start)`;
    } catch {
      tried[tried.length - 1] = `${name} (did not start)`;
    }
  }
  throw new Error(`no tfjs backend could start (tried ${tried.join(', ')})`);
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

async function load(backend: string | null): Promise<void> {
  const { name, tried } = await pickBackend(backend);
  let index: { methods: Method[] };
  try {
    index = await (await fetchOk('/checkpoints/index.json')).json();
  } catch (e) {
    throw new Error(`no checkpoint list (${(e as Error).message}); start the page with nestar web --checkpoint PATH`);
  }
  if (!index.methods?.length) throw new Error('the server offers no checkpoints; pass nestar web --checkpoint PATH');
  for (const m of index.methods) {
    const p = await fetchPipeline(`/checkpoints/${m}`, { method: m });
    pipelines.get(m)?.dispose();
    pipelines.set(m, p);
  }
  post({
    type: 'ready', backend: name, tried, models: [...pipelines.values()].map((p) => ({
      method: p.model.method, sequentialSteps: p.model.sequentialSteps, formula: FORMULAS[p.model.method], params: p.model.params.count(),
      step: p.step, numClasses: p.config.model.numClasses, classNames: p.classNames, imageSize: p.config.data.imageSize, channels: p.config.data.channels,
    })),
  });
}

async function generate(req: GenerateRequest): Promise<void> {
  const p = pipelines.get(req.method);
  if (!p) throw new Error(`no ${req.method} checkpoint is loaded`);
  const t0 = performance.now();
  // The settings the sampler runs with, echoed in the 'done' message (the page and its test read them back).
  const settings = { count: req.count, classes: req.classes, cfg: req.cfg, cfgSchedule: req.cfgSchedule, temperature: req.temperature, odeSteps: req.odeSteps, seed: req.seed };
  const res = await p.generate({
    ...settings,
    onStep: async (s) => {
      const images = s.images().data;
      post({ type: 'step', id: req.id, calls: s.calls, totalCalls: s.totalCalls, module: s.module, patch: s.patch, elapsedMs: performance.now() - t0, images, made: p.madeMask(s.tokensSoFar) }, [images.buffer]);
      // Let a Cancel message in between steps.
      await new Promise((r) => setTimeout(r, 0));
      if (cancelled === req.id) throw new Cancelled();
    },
  });
  const images = res.images.data, tokens = res.tokens;
  post({ type: 'done', id: req.id, settings, calls: res.backboneCalls, expectedCalls: res.expectedCalls, headEvals: res.headEvals, elapsedMs: performance.now() - t0, images, tokens }, [images.buffer]);
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'cancel') { cancelled = m.id; return; }
  const run = m.type === 'load' ? load(m.backend) : generate(m);
  run.catch((e: unknown) => {
    const id = m.type === 'generate' ? m.id : undefined;
    if (e instanceof Cancelled) post({ type: 'cancelled', id: id! });
    else post({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
  });
};
