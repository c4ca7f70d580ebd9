// One evaluation feature net per dataset: a classifier trained on the dataset's training split, checked on its
// held-out split, saved with the dataset it was trained on so a report (and a later eval) can tell which
// feature space its numbers live in. An unlabelled folder has no classes to train one on: its evaluation needs
// `--features` naming a net trained on labelled images of the same size and channels.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datasetName, loadSplits } from '../data/load.js';
import { DEFAULT_HOLDOUT, type DataConfig } from '../data/dataConfig.js';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { SHIPPED_DIR } from '../cli/paths.js';
import { defaultFeatureNetConfig, FeatureNet } from './featureNet.js';

/** What a feature net was trained on (absent in the MNIST net made before other datasets existed). */
export interface FeatureNetDataset { name: string; imageSize: number; channels: number; holdout?: number; splitSeed?: number; background?: string; classNames?: string[] }

/** feature-net.json beside the weights. */
export interface FeatureNetMeta { sha256: string; testAccuracy?: number; dataset?: FeatureNetDataset }

const MNIST_DATASET: FeatureNetDataset = { name: 'mnist', imageSize: 32, channels: 1 };

/** Where the shipped feature nets are (checkpoints/features/<name>). */
const SHIPPED_FEATURES = join(SHIPPED_DIR, 'features');

/** The folder a dataset's feature net is kept in: the shipped one for MNIST and emoji when present, else runs/features/<name>. */
export function defaultFeatureDir(data: Pick<DataConfig, 'source' | 'imageSize' | 'channels'>): string {
  const name = datasetName(data);
  const slug = name === 'mnist' || name === 'emoji' ? name : `folder-${createHash('sha256').update(resolve(data.source)).digest('hex').slice(0, 10)}`;
  const sized = name === 'mnist' ? slug : `${slug}-${data.imageSize}x${data.channels}`;
  const shipped = join(SHIPPED_FEATURES, sized);
  return existsSync(join(shipped, 'feature-net.safetensors')) ? shipped : resolve('runs', 'features', sized);
}

function describe(data: DataConfig, classNames: string[]): FeatureNetDataset {
  return data.source === 'mnist' ? { ...MNIST_DATASET, imageSize: data.imageSize }
    : { name: datasetName(data), imageSize: data.imageSize, channels: data.channels, holdout: data.holdout ?? DEFAULT_HOLDOUT, splitSeed: data.splitSeed ?? 0, background: data.background ?? '#ffffff', classNames };
}

/**
 * Loads the feature net in `dir` (checking its hash), or trains it there on `data`'s training split (printing
 * its held-out accuracy). A net trained on another dataset is refused unless `allowOther` (an explicit --features).
 */
export function ensureFeatureNet(dir: string, data: DataConfig = { source: 'mnist', imageSize: 32, channels: 1 },
  opts: { epochs?: number; limit?: number; seed?: number; allowOther?: boolean; log?: (m: string) => void } = {}): { net: FeatureNet; accuracy?: number; trained: boolean; dataset: FeatureNetDataset } {
  const log = opts.log ?? ((m: string) => console.error(m));
  if (existsSync(join(dir, 'feature-net.safetensors'))) {
    const net = FeatureNet.load(dir);
    const meta = JSON.parse(readFileSync(join(dir, 'feature-net.json'), 'utf8')) as FeatureNetMeta;
    if (meta.sha256 !== net.hash()) throw new Error(`${dir}/feature-net.json records sha256 ${meta.sha256.slice(0, 12)}… but the weights hash to ${net.hash().slice(0, 12)}…`);
    const dataset = meta.dataset ?? MNIST_DATASET;
    if (net.config.imageSize !== data.imageSize || net.config.channels !== data.channels) {
      net.dispose();
      throw new Error(`feature net ${dir} takes ${net.config.imageSize}x${net.config.imageSize}x${net.config.channels} images, the data is ${data.imageSize}x${data.imageSize}x${data.channels}`);
    }
    if (dataset.name !== datasetName(data)) {
      if (!opts.allowOther) { net.dispose(); throw new Error(`feature net ${dir} was trained on ${dataset.name}, not ${datasetName(data)}; pass --features explicitly to score in its feature space anyway`); }
      log(`note: scoring ${datasetName(data)} in the feature space of a net trained on ${dataset.name} (--features ${dir})`);
    }
    return { net, accuracy: meta.testAccuracy, trained: false, dataset };
  }
  const { train, heldout } = loadSplits(data, { limits: { train: opts.limit } });
  if (train.classNames.length === 0 && data.source !== 'mnist') {
    throw new Error(`data ${data.source} has no class sub-folders, so no classifier feature net can be trained on it; pass --features DIR naming a feature net trained on labelled ${data.imageSize}x${data.imageSize}x${data.channels} images (nestar train-features --data FOLDER-WITH-CLASSES)`);
  }
  const numClasses = data.source === 'mnist' ? 10 : train.classNames.length;
  const net = new FeatureNet({ ...defaultFeatureNetConfig, imageSize: data.imageSize, channels: data.channels, numClasses, epochs: opts.epochs ?? defaultFeatureNetConfig.epochs, seed: opts.seed ?? 0 });
  log(`training the feature net (LeNet-like CNN, seed ${net.config.seed}, ${net.config.epochs} epochs on ${train.count} ${datasetName(data)} training images, ${numClasses} classes)…`);
  const steps = Math.floor(train.count / net.config.batchSize) * net.config.epochs;
  let last = -1;
  net.train(train, (s, _t, loss) => { if (s === steps || s - last >= Math.max(1, Math.floor(steps / 10))) { last = s; log(`  features step ${s}/${steps} loss ${loss.toFixed(4)}`); } });
  const accuracy = net.accuracy(heldout);
  const sha = net.save(dir);
  const dataset = describe(data, train.classNames);
  atomicWriteFile(join(dir, 'feature-net.json'), JSON.stringify({ config: net.config, sha256: sha, testAccuracy: accuracy, dataset }, null, 1) + '\n');
  log(`feature net: held-out accuracy ${(100 * accuracy).toFixed(2)} %, sha256 ${sha}, saved in ${dir}`);
  return { net, accuracy, trained: true, dataset };
}
