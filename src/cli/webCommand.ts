// `nestar web`: build the browser page and serve it with checkpoints on localhost.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildWeb, serveWeb, WEB_ROOT } from '../web/server.js';
import { METHODS, type Method } from '../model/generator.js';
import { num, parse, UsageError } from './args.js';
import { SHIPPED_DEMO, SHIPPED_DIR } from './paths.js';

export const WEB_HELP = `nestar web [--checkpoint PATH | --checkpoint METHOD=PATH ... | --shipped mnist|emoji-32] [--port 5173] [--host 127.0.0.1] [--rebuild]
  build (first time) and serve the browser page; without --checkpoint: the shipped checkpoints of --shipped (default
  mnist; emoji-32: the Noto emoji models, in a checkout), all three methods where present, else runs/demo`;

/** The shipped model sets the page can serve without --checkpoint: each method's checkpoint folder. */
export const WEB_SETS: Record<string, Record<Method, string>> = {
  // NestAR: the best one measured (the demo's); the baselines: F16 copies of the shipped comparison runs (checkpoints/web).
  mnist: { nestar: SHIPPED_DEMO, raster: join(SHIPPED_DIR, 'web', 'raster'), nextscale: join(SHIPPED_DIR, 'web', 'nextscale') },
  // The colour models of RESULTS.md's emoji rows (checkpoints/emoji-32/<method>; in the repository, not the npm package).
  'emoji-32': { nestar: join(SHIPPED_DIR, 'emoji-32', 'nestar'), raster: join(SHIPPED_DIR, 'emoji-32', 'raster'), nextscale: join(SHIPPED_DIR, 'emoji-32', 'nextscale') },
};

/** `--checkpoint` values for shipped set `name`: the methods whose folder holds a checkpoint (may be none). */
export function shippedCheckpoints(name: string): string[] {
  const set = WEB_SETS[name];
  if (!set) throw new UsageError(`--shipped ${name}: unknown set; expected ${Object.keys(WEB_SETS).join(' or ')}`);
  return METHODS.filter((m) => existsSync(join(set[m], 'state.json'))).map((m) => `${m}=${set[m]}`);
}

export async function webCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { checkpoint: { type: 'string', multiple: true }, port: { type: 'string' }, host: { type: 'string' },
    shipped: { type: 'string' }, rebuild: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(WEB_HELP);
  if (a.shipped !== undefined && a.checkpoint !== undefined) throw new UsageError('--shipped and --checkpoint: give one of them');
  const setName = typeof a.shipped === 'string' ? a.shipped : 'mnist';
  const shipped = shippedCheckpoints(setName);
  if (a.shipped !== undefined && !shipped.length) throw new UsageError(`--shipped ${setName}: none of its checkpoints is here (${Object.values(WEB_SETS[setName]!).join(', ')}); they ship in the repository, not the npm package`);
  const given = (a.checkpoint as unknown as string[] | undefined) ?? (shipped.length ? shipped : ['runs/demo']);
  const checkpoints: Partial<Record<Method, string>> = {};
  for (const g of given) {
    const m = /^([a-z]+)=(.+)$/.exec(g);
    const method = (m ? m[1] : 'nestar') as Method;
    if (!METHODS.includes(method)) throw new UsageError(`--checkpoint ${g}: unknown method '${method}'; expected ${METHODS.join(', ')}`);
    checkpoints[method] = m ? m[2]! : g;
  }
  const dist = join(WEB_ROOT, 'dist');
  if (a.rebuild || !existsSync(join(dist, 'index.html'))) {
    console.error('building the page with Vite…');
    await buildWeb();
  }
  const port = num(a.port, 'port', { int: true, min: 0, max: 65535 }) ?? 5173;
  const web = await serveWeb({ dist, checkpoints, port, host: typeof a.host === 'string' ? a.host : '127.0.0.1' });
  console.log(`nestar web: open ${web.url}  (checkpoints: ${Object.entries(checkpoints).map(([k, v]) => `${k}=${v}`).join(', ')}; Ctrl-C stops)`);
  await new Promise<void>((resolveStop) => process.once('SIGINT', () => void web.close().then(resolveStop)));
}
