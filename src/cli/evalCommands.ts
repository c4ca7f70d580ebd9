// `nestar train-features` and `nestar eval` (evaluation.md).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeBackend, initBackend, parseBackendName } from '../engine/backend.js';
import { datasetName, loadSplits } from '../data/load.js';
import { loadImageFolder } from '../data/imageFolder.js';
import { defaultFeatureDir, ensureFeatureNet } from '../eval/featureNets.js';
import { backgroundRgb, defaultChannels, resolveRunConfig, type DataConfig } from '../train/config.js';
import { checkComparable, checkpointHash, embed, reportMarkdown, CLASS_CHOICE, NEAR_DUPLICATE_RULE, nearDuplicateThresholds, proportionalClasses, realDataRow, scoreSet, type Embedded, type MetricRow, type Report } from '../eval/evaluate.js';
import { nearestDistances } from '../eval/metrics.js';
import { tfDistanceRows } from '../eval/tfDistance.js';
import { loadPipeline } from '../pipeline.js';
import { METHODS } from '../model/generator.js';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { writeImageGrid } from '../util/png.js';
import { lineChartSvg } from '../util/svgPlot.js';
import { ProgressBar } from './progress.js';
import { readSamplingFlags, SAMPLING_FLAGS, SAMPLING_USAGE } from './samplingFlags.js';
import { choice, num, parse, UsageError } from './args.js';

export const FEATURES_HELP = `nestar train-features [--data mnist|emoji|FOLDER] [--image-size 32] [--channels 1|3] [--out DIR] [--epochs 3] [--limit N] [--seed 0] [--backend B]
  train the evaluation feature net of a labelled dataset on its training split (default --out: runs/features/<dataset>)`;

/** The data section named by --data/--image-size/--channels (MNIST: 1 channel; other sources: 3 unless given). */
export function dataFromFlags(a: Record<string, string | boolean | undefined>, fallback?: DataConfig): DataConfig {
  if (a.data === undefined && fallback) {
    if (a['image-size'] !== undefined || a.channels !== undefined) throw new UsageError('--image-size and --channels go with --data; without --data the checkpoint\'s data settings are used');
    return fallback;
  }
  const source = typeof a.data === 'string' ? a.data : 'mnist';
  const channels = num(a.channels, 'channels', { int: true, min: 1, max: 3 }) ?? defaultChannels(source);
  if (channels !== 1 && channels !== 3) throw new UsageError(`--channels must be 1 or 3, got ${channels}`);
  return resolveRunConfig({ data: { source, imageSize: num(a['image-size'], 'image-size', { int: true, min: 4 }) ?? 32, channels } }).data;
}

export async function trainFeaturesCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { data: { type: 'string' }, 'image-size': { type: 'string' }, channels: { type: 'string' }, out: { type: 'string' }, epochs: { type: 'string' }, limit: { type: 'string' },
    seed: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(FEATURES_HELP);
  const data = dataFromFlags(a);
  const dir = typeof a.out === 'string' ? resolve(a.out) : defaultFeatureDir(data);
  if (existsSync(join(dir, 'feature-net.safetensors'))) throw new UsageError(`--out ${dir} already holds a feature net; choose another --out or delete it`);
  console.error(describeBackend(await initBackend(typeof a.backend === 'string' ? parseBackendName(a.backend, '--backend') : undefined)));
  const { net, accuracy } = ensureFeatureNet(dir, data, { epochs: num(a.epochs, 'epochs', { int: true, min: 1 }), limit: num(a.limit, 'limit', { int: true, min: 100 }), seed: num(a.seed, 'seed', { int: true, min: 0 }) });
  if (data.source === 'mnist' && accuracy !== undefined && accuracy < 0.99) console.error(`warning: accuracy ${(100 * accuracy).toFixed(2)} % is below the 99 % the protocol asks for; train longer (--epochs)`);
  net.dispose();
}

/** A report written by `nestar eval`, or a clear error naming the file. */
function readReportFile(path: string): Report {
  if (!existsSync(path)) throw new UsageError(`--compare: '${path}' does not exist`);
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--compare: '${path}' is not valid JSON (${(e as Error).message})`);
  }
  const rep = r as Partial<Report> | null;
  if (!rep || typeof rep !== 'object' || rep.format !== 'nestar-eval-v1' || !Array.isArray(rep.rows) || !rep.featureNet?.sha256) {
    throw new UsageError(`--compare: '${path}' is not a nestar eval report (report.json with format 'nestar-eval-v1', rows and featureNet)`);
  }
  return rep as Report;
}

export const EVAL_HELP = `nestar eval (--checkpoint PATH | --samples DIR) [--n 10000] [--cfg 1,1.5,2,3]
  ${SAMPLING_USAGE}
  [--data mnist|emoji|FOLDER [--image-size 32] [--channels 1|3]] (default: the checkpoint's data; mnist for --samples)
  [--batch 250] [--features DIR] (default: the dataset's feature net, trained on its training split when missing)
  [--out DIR] [--test-limit N] [--train-limit N] [--compare REPORT.json] [--method M]`;

export async function evalCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { ...SAMPLING_FLAGS, checkpoint: { type: 'string' }, samples: { type: 'string' }, n: { type: 'string' }, cfg: { type: 'string' },
    batch: { type: 'string' }, features: { type: 'string' }, out: { type: 'string' }, 'test-limit': { type: 'string' },
    'train-limit': { type: 'string' }, compare: { type: 'string' }, method: { type: 'string' }, backend: { type: 'string' },
    data: { type: 'string' }, 'image-size': { type: 'string' }, channels: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(EVAL_HELP);
  if ((typeof a.checkpoint === 'string') === (typeof a.samples === 'string')) throw new UsageError('give exactly one of --checkpoint PATH or --samples DIR');
  const n = num(a.n, 'n', { int: true, min: 10 }) ?? 10000;
  const cfgs = typeof a.cfg === 'string' ? a.cfg.split(',').map((v) => num(v, 'cfg', { min: 0 })!) : [2];
  const settings = readSamplingFlags(a);
  const batch = num(a.batch, 'batch', { int: true, min: 1 }) ?? 250;
  const testLimit = num(a['test-limit'], 'test-limit', { int: true, min: 10 }), trainLimit = num(a['train-limit'], 'train-limit', { int: true, min: 10 });
  const out = resolve(typeof a.out === 'string' ? a.out : 'runs/eval');
  const compare = typeof a.compare === 'string' ? a.compare : undefined;
  // Read before any sampling, so a bad --compare file fails in a second, not after an hour of work.
  const compareReport = compare ? readReportFile(compare) : undefined;
  console.error(describeBackend(await initBackend(typeof a.backend === 'string' ? parseBackendName(a.backend, '--backend') : undefined)));

  // The checkpoint is opened first: its data section says what to score against (unless --data says otherwise).
  const pipe = typeof a.checkpoint === 'string' ? loadPipeline(a.checkpoint, { method: choice(a.method, 'method', METHODS) }) : undefined;
  const data = dataFromFlags(a, pipe ? { ...pipe.config.data, limit: undefined } : undefined);
  if (pipe && (data.imageSize !== pipe.config.data.imageSize || data.channels !== pipe.config.data.channels)) {
    throw new UsageError(`--data ${data.source} at ${data.imageSize}x${data.imageSize}x${data.channels} does not match checkpoint ${pipe.source} (${pipe.config.data.imageSize}x${pipe.config.data.imageSize}x${pipe.config.data.channels})`);
  }
  const featureDir = typeof a.features === 'string' ? resolve(a.features) : defaultFeatureDir(data);
  const { net, accuracy, dataset: netData } = ensureFeatureNet(featureDir, data, { allowOther: typeof a.features === 'string' });
  const rows = tfDistanceRows();
  const { heldout: test, train } = loadSplits(data, { limits: { heldout: testLimit, train: trainLimit } });
  const splitName = data.source === 'mnist' ? 'test' : `held-out (${data.holdout} of each class, seed ${data.splitSeed})`;
  console.error(`embedding ${test.count} ${splitName} and ${train.count} training images of ${datasetName(data)}…`);
  const real = embed(net, test, test.labels), trainE = embed(net, train, train.labels);
  const testToTrain = nearestDistances(real.features, trainE.features, rows);
  const memo = { train: trainE.features, testToTrain };
  const realData = realDataRow(real, trainE, n, data.source, rows);

  const rowsOut: MetricRow[] = [];
  let source: Report['source'];
  if (typeof a.samples === 'string') {
    const ds = loadImageFolder(a.samples, { size: data.imageSize, channels: data.channels, background: backgroundRgb(data) });
    const e = embed(net, ds, ds.labels);
    rowsOut.push(scoreSet(`samples ${a.samples}`, real, e, rows, memo));
    writeImageGrid(join(out, 'samples.png'), { ...ds, count: Math.min(100, ds.count) }, 10);
    source = { samplesDir: resolve(a.samples) };
  } else {
    if (!pipe) throw new Error('unreachable: --checkpoint without a pipeline');
    const sampleClasses = proportionalClasses(train.labels, pipe.classNames.length, n);
    const S = pipe.config.data.imageSize, pixels = S * S * pipe.config.data.channels;
    const shape = { height: S, width: S, channels: pipe.config.data.channels };
    for (const cfg of cfgs) {
      const bar = new ProgressBar(n, `eval cfg ${cfg}`);
      const images = new Float32Array(n * pixels), labels = new Int32Array(n);
      const t0 = performance.now();
      for (let i = 0; i < n; i += batch) {
        const b = Math.min(batch, n - i);
        const classes = Array.from(sampleClasses.subarray(i, i + b));
        const res = await pipe.generate({ count: b, classes, cfg, ...settings, seed: settings.seed + i });
        images.set(res.images.data, i * pixels);
        labels.set(classes, i);
        bar.update(i + b);
      }
      const seconds = (performance.now() - t0) / 1000;
      const gen: Embedded = embed(net, { data: images, count: n, ...shape }, labels);
      rowsOut.push({ ...scoreSet(`${pipe.model.method} samples`, real, gen, rows, memo), cfg, samplingSeconds: seconds });
      if (cfg === cfgs[0]) writeImageGrid(join(out, 'samples.png'), { data: images, count: Math.min(n, 100), ...shape }, 10);
    }
    source = { checkpoint: pipe.source, checkpointSha256: checkpointHash(pipe.source, 'ema'), method: pipe.model.method, step: pipe.step,
      params: pipe.model.params.count(), sequentialCalls: pipe.model.sequentialSteps };
    pipe.dispose();
  }
  const report: Report = {
    format: 'nestar-eval-v1', command: `nestar eval ${argv.join(' ')}`, dataset: datasetName(data), split: splitName, referenceN: test.count,
    featureNet: { sha256: net.hash(), testAccuracy: accuracy, layer: 'penultimate fully connected layer (128, after ReLU)', dataset: netData.name },
    source, settings: { n, seed: settings.seed, ...(source.checkpoint ? { solver: settings.solver, odeSteps: settings.odeSteps, cfg: cfgs, cfgSchedule: settings.cfgSchedule, temperature: settings.temperature, batch, classes: CLASS_CHOICE,
      ...(settings.cfgInterval ? { cfgInterval: settings.cfgInterval } : {}), ...(settings.timeShift !== undefined ? { timeShift: settings.timeShift } : {}), ...(settings.sdeNoise !== undefined ? { sdeNoise: settings.sdeNoise } : {}) } : {}) },
    rows: rowsOut, realData, nearDuplicates: { thresholds: nearDuplicateThresholds(real, rows), rule: NEAR_DUPLICATE_RULE }, date: new Date().toISOString(),
  };
  const others: Report[] = [];
  if (compareReport) {
    checkComparable(report, compareReport, compare!);
    others.push(compareReport);
  }
  atomicWriteFile(join(out, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  atomicWriteFile(join(out, 'report.md'), reportMarkdown(report, others));
  if (rowsOut.length > 1) {
    atomicWriteFile(join(out, 'fd-vs-cfg.svg'), lineChartSvg({ title: 'FD vs CFG scale', xLabel: 'CFG', yLabel: 'Fréchet distance', series: [{ name: 'FD', points: rowsOut.map((r) => [r.cfg!, r.fd]) }] }));
    atomicWriteFile(join(out, 'fd-vs-recall.svg'), lineChartSvg({ title: 'FD vs recall over CFG', xLabel: 'recall', yLabel: 'Fréchet distance', series: [{ name: 'CFG sweep', points: rowsOut.map((r) => [r.recall, r.fd]) }] }));
  }
  console.log(reportMarkdown(report, others));
  console.log(`wrote ${join(out, 'report.json')}, report.md, samples.png${rowsOut.length > 1 ? ', fd-vs-cfg.svg, fd-vs-recall.svg' : ''}`);
  net.dispose();
}
