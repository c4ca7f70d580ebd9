// Samples one row of eight digits per class from the NestAR checkpoint that ships with nestar and writes
// them as a PNG grid: node sample-grid.mjs [out.png]
import { initBackend, loadPipeline, writeImageGrid, SHIPPED_DEMO } from 'nestar';

const out = process.argv[2] ?? 'digits.png';
const backend = await initBackend(); // the native OpenBLAS kernels when they were built at install, else WASM
const pipe = loadPipeline(SHIPPED_DEMO); // or a run folder of yours, or an exported checkpoint
const classes = Array.from({ length: 80 }, (_, i) => Math.floor(i / 8)); // digits 0-9, eight of each
const t0 = performance.now();
const { images, backboneCalls } = await pipe.generate({ count: classes.length, classes, cfg: 1.25, seed: 0 }); // the best CFG measured for it
writeImageGrid(out, images, 8);
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
console.log(`${out}: ${images.count} images in ${seconds} s on ${backend.name}, ${backboneCalls} sequential network calls`);
pipe.dispose();
