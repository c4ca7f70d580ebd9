// The benchmarks behind `nestar bench <name>` and `npm run bench -- <name>`.
import { engineBench } from './engine.js';
import { speedBench } from './speed.js';
import { profileBench } from './profile.js';

export const BENCHES: Record<string, (args: string[]) => Promise<unknown>> = {
  speed: (a) => speedBench(a),
  engine: engineBench,
  profile: profileBench,
};
