// The page: controls, the live canvas (each patch drawn as it is made), the call counter, and the
// per-stage snapshots. All model work happens in the worker.
import type { FromWorker, GenerateRequest, ModelInfo, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  method: $<HTMLSelectElement>('method'), cls: $<HTMLSelectElement>('class'), cfg: $<HTMLInputElement>('cfg'), cfgSchedule: $<HTMLSelectElement>('cfgSchedule'),
  temperature: $<HTMLInputElement>('temperature'), odeSteps: $<HTMLInputElement>('odeSteps'), seed: $<HTMLInputElement>('seed'),
  count: $<HTMLInputElement>('count'), generate: $<HTMLButtonElement>('generate'), cancel: $<HTMLButtonElement>('cancel'),
  download: $<HTMLButtonElement>('download'), status: $('status'), error: $('error'), calls: $('calls'), elapsed: $('elapsed'),
  canvas: $<HTMLCanvasElement>('canvas'), stages: $('stages'), form: $<HTMLFormElement>('controls'),
};
const SCALE = 4, GAP = 2, UNMADE: [number, number, number] = [20, 28, 51];
const params = new URLSearchParams(location.search);
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);
let models: ModelInfo[] = [];
interface Snapshot { image: Float32Array; made: Uint8Array; module: number; calls: number }
let running: { req: GenerateRequest; info: ModelInfo; last: Snapshot | null } | null = null;
let nextId = 1;

function setStatus(state: string, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

function showError(message: string): void {
  ui.error.hidden = false;
  ui.error.textContent = message;
  setStatus('error', 'Error');
}

function fillClasses(info: ModelInfo): void {
  const keep = ui.cls.value;
  // Class names come from the checkpoint (folder names, emoji categories): text, never markup.
  ui.cls.replaceChildren(new Option('each class in turn', 'cycle'), new Option('unconditional', '-1'),
    ...info.classNames.map((name, c) => new Option(name, String(c))));
  if ([...ui.cls.options].some((o) => o.value === keep)) ui.cls.value = keep;
}

const current = () => models.find((m) => m.method === ui.method.value)!;

/** Draws a batch of NHWC images in [-1, 1] as a grid; pixels not yet made are shown dark. */
function drawGrid(target: HTMLCanvasElement, images: Float32Array, count: number, info: ModelInfo, made: Uint8Array | null, cols: number): void {
  const S = info.imageSize, C = info.channels, rows = Math.ceil(count / cols);
  const W = cols * (S + GAP) - GAP, H = rows * (S + GAP) - GAP;
  const small = new OffscreenCanvas(W, H), ctx = small.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  for (let b = 0; b < count; b++) {
    const ox = (b % cols) * (S + GAP), oy = Math.floor(b / cols) * (S + GAP);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const o = ((oy + y) * W + ox + x) * 4, src = ((b * S + y) * S + x) * C;
        for (let c = 0; c < 3; c++) {
          const v = images[src + (C === 1 ? 0 : c)]!;
          img.data[o + c] = made && !made[y * S + x] ? UNMADE[c]! : Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
        img.data[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
  const scale = target === ui.canvas ? SCALE : 1;
  target.width = W * scale;
  target.height = H * scale;
  const out = target.getContext('2d')!;
  out.imageSmoothingEnabled = false;
  out.drawImage(small, 0, 0, W * scale, H * scale);
}

function stage(s: Snapshot, info: ModelInfo): void {
  const fig = document.createElement('figure'), c = document.createElement('canvas'), cap = document.createElement('figcaption');
  drawGrid(c, s.image, 1, info, s.made, 1);
  const what = info.method === 'nestar' ? `module ${s.module}` : info.method === 'nextscale' ? `scale ${s.module}` : `${s.calls} tokens`;
  cap.textContent = `${what} · ${s.calls} calls`;
  fig.append(c, cap);
  ui.stages.append(fig);
}

function updateCounter(calls: number, info: ModelInfo, elapsedMs: number): void {
  ui.calls.dataset.calls = String(calls);
  ui.calls.dataset.expected = String(info.sequentialSteps);
  ui.calls.textContent = `sequential calls ${calls} / ${info.sequentialSteps} (${info.formula} = ${info.sequentialSteps})`;
  ui.elapsed.textContent = `${(elapsedMs / 1000).toFixed(2)} s`;
}

function busy(on: boolean): void {
  ui.generate.disabled = on;
  ui.cancel.disabled = !on;
  ui.method.disabled = on;
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  if (m.type === 'ready') {
    models = m.models;
    ui.method.innerHTML = models.map((x) => `<option value="${x.method}">${x.method} (${x.sequentialSteps} calls, ${(x.params / 1e6).toFixed(2)}M params)</option>`).join('');
    const wanted = params.get('method');
    if (wanted && models.some((x) => x.method === wanted)) ui.method.value = wanted;
    fillClasses(current());
    document.body.dataset.backend = m.backend;
    setStatus('ready', `Ready on the ${m.backend} backend (tried ${m.tried.join(' → ')}).`);
    busy(false);
    return;
  }
  if (m.type === 'error') {
    running = null;
    busy(models.length === 0);
    if (models.length === 0) ui.generate.disabled = true;
    return showError(m.message);
  }
  if (!running || m.id !== running.req.id) return;
  const { req, info } = running;
  const cols = Math.ceil(Math.sqrt(req.count));
  if (m.type === 'step') {
    drawGrid(ui.canvas, m.images, req.count, info, m.made, cols);
    updateCounter(m.calls, info, m.elapsedMs);
    const snap = { image: m.images.slice(0, info.imageSize * info.imageSize * info.channels), made: m.made, module: m.module, calls: m.calls };
    if (info.method === 'raster') {
      // One snapshot per eighth of the tokens.
      if (m.calls % Math.max(1, Math.round(m.totalCalls / 8)) === 0 || m.calls === m.totalCalls) stage(snap, info);
    } else if (running.last && running.last.module !== m.module) stage(running.last, info); // the previous module/scale is complete
    running.last = snap;
  } else if (m.type === 'done') {
    drawGrid(ui.canvas, m.images, req.count, info, null, cols);
    updateCounter(m.calls, info, m.elapsedMs);
    if (info.method !== 'raster' && running.last) stage(running.last, info);
    (window as unknown as { __nestarResult: unknown }).__nestarResult = { tokens: Array.from(m.tokens), calls: m.calls, expectedCalls: m.expectedCalls, request: req, settings: m.settings };
    setStatus('done', `Done: ${req.count} images, ${m.calls} sequential calls, ${m.headEvals} head evaluations, ${(m.elapsedMs / 1000).toFixed(2)} s.`);
    running = null;
    busy(false);
    ui.download.disabled = false;
  } else if (m.type === 'cancelled') {
    setStatus('cancelled', 'Cancelled.');
    running = null;
    busy(false);
  }
};
worker.onerror = (e) => showError(`the worker failed: ${e.message}`);

ui.method.onchange = () => fillClasses(current());
ui.form.onsubmit = (e) => {
  e.preventDefault();
  const info = current();
  const num = (el: HTMLInputElement, min: number, int: boolean) => {
    const v = Number(el.value);
    if (!Number.isFinite(v) || v < min || (int && !Number.isInteger(v))) throw new Error(`${el.id} must be ${int ? 'an integer' : 'a number'} ≥ ${min}`);
    return v;
  };
  let req: GenerateRequest;
  try {
    const count = num(ui.count, 1, true);
    const K = info.classNames.length; // 0: an unlabelled dataset, sampled unconditionally
    const classes = ui.cls.value === 'cycle' ? Array.from({ length: count }, (_, i) => (K ? i % K : -1)) : new Array(count).fill(Number(ui.cls.value));
    req = { type: 'generate', id: nextId++, method: info.method, count, classes, cfg: num(ui.cfg, 0, false), cfgSchedule: ui.cfgSchedule.value === 'linear' ? 'linear' : 'constant', temperature: num(ui.temperature, 0, false), odeSteps: num(ui.odeSteps, 1, true), seed: num(ui.seed, 0, true) };
  } catch (err) {
    return showError((err as Error).message);
  }
  ui.error.hidden = true;
  ui.stages.innerHTML = '';
  ui.download.disabled = true;
  running = { req, info, last: null };
  updateCounter(0, info, 0);
  setStatus('running', `Generating ${req.count} images with ${info.method}…`);
  busy(true);
  send(req);
};
ui.cancel.onclick = () => { if (running) send({ type: 'cancel', id: running.req.id }); };
ui.download.onclick = () => ui.canvas.toBlob((blob) => {
  if (!blob) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'nestar-samples.png';
  a.click();
  URL.revokeObjectURL(a.href);
});

busy(false);
ui.generate.disabled = true;
send({ type: 'load', backend: params.get('backend') });
