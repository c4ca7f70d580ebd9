// Where the package keeps what it ships: trained checkpoints and the evaluation feature net.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkpoints folder that ships with the package. */
export const SHIPPED_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'checkpoints');
/** The best NestAR measured so far (patch flow head, interleaved order, 3600 steps; results/RESULTS.md). */
export const SHIPPED_DEMO = join(SHIPPED_DIR, 'mnist-patch', 'long', 'nestar-3600');
