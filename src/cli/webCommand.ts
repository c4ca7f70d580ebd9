// `nestar web`: build the browser page and serve it with checkpoints on localhost.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildWeb, serveWeb, WEB_ROOT } from '../web/server.js';
import { METHODS, type Method } from '../model/generator.js';
import { num, parse, UsageError } from './args.js';
import { SHIPPED_DEMO, SHIPPED_DIR } from './paths.js';

export const WEB_HELP = `nestar web [--checkpoint PATH | --checkpoint METHOD=PATH ...] [--port 5173] [--host 127.0.0.1] [--rebuild]
  build (first time) and serve the browser page; without --checkpoint: the shipped checkpoints (all three methods), else runs/demo`;

export async function webCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { checkpoint: { type: 'string', multiple: true }, port: { type: 'string' }, host: { type: 'string' },
    rebuild: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(WEB_HELP);
  // NestAR: the best one measured (the demo's); the baselines: F16 copies of the shipped comparison runs (checkpoints/web).
  const shippedPath = (m: Method) => (m === 'nestar' ? SHIPPED_DEMO : join(SHIPPED_DIR, 'web', m));
  const shipped = METHODS.filter((m) => existsSync(join(shippedPath(m), 'state.json'))).map((m) => `${m}=${shippedPath(m)}`);
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
