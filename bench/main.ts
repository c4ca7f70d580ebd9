// `npm run bench -- <name>`: the benchmarks. Each prints a table and writes JSON under results/.
import { engineBench } from './engine.js';

const [name, ...rest] = process.argv.slice(2);
const benches: Record<string, (args: string[]) => Promise<void>> = { engine: engineBench };
const run = name ? benches[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
  process.exit(2);
}
await run(rest);
