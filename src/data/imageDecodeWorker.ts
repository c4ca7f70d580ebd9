// Worker thread: decodes its share of an image folder and reports through the shared signal (the main
// thread waits on it synchronously; see decodeParallel in imageFolder.ts).
import { workerData, type MessagePort } from 'node:worker_threads';
import { decodeFiles, type DecodeTarget } from './imageDecode.js';

const { paths, target, port, signal } = workerData as { paths: string[]; target: DecodeTarget; port: MessagePort; signal: Int32Array };
Atomics.store(signal, 0, 1);
Atomics.notify(signal, 0);
try {
  const r = decodeFiles(paths, target);
  port.postMessage(r, [r.pixels.buffer as ArrayBuffer]);
  Atomics.store(signal, 1, 1);
} catch {
  Atomics.store(signal, 1, 2); // failed: the main thread decodes this half itself
}
Atomics.notify(signal, 1);
