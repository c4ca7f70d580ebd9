// `nestar web`: builds the page with Vite (once, or when asked) and serves it with the checkpoints and
// tfjs's WASM binaries from one origin on localhost.
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveCheckpointDir } from '../train/checkpoint.js';
import { METHODS, type Method } from '../model/generator.js';

/** The web/ folder of this package (next to src/ and dist/). */
export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml', '.safetensors': 'application/octet-stream',
};

/** Builds web/ into web/dist with Vite; returns the dist folder. */
export async function buildWeb(): Promise<string> {
  const { build } = await import('vite');
  await build({ configFile: join(WEB_ROOT, 'vite.config.ts'), root: WEB_ROOT, logLevel: 'warn' });
  return join(WEB_ROOT, 'dist');
}

export interface WebServer { url: string; server: Server; close: () => Promise<void> }

/**
 * Serves `dist` plus /checkpoints/index.json, /checkpoints/<method>/{state.json,ema.safetensors} (each
 * checkpoint path may be a run folder or a checkpoint folder) and /tfjs-wasm/*.wasm.
 */
export async function serveWeb(opts: { dist: string; checkpoints: Partial<Record<Method, string>>; port?: number; host?: string }): Promise<WebServer> {
  const dirs: Partial<Record<Method, string>> = {};
  for (const [m, p] of Object.entries(opts.checkpoints) as Array<[Method, string]>) {
    if (!METHODS.includes(m)) throw new Error(`--checkpoint: unknown method '${m}'; expected one of ${METHODS.join(', ')}`);
    // A missing or broken checkpoint is reported on the page (so it cannot be a blank canvas), not here.
    try { dirs[m] = resolveCheckpointDir(p); } catch { dirs[m] = resolve(p); }
  }
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  const send = (res: import('node:http').ServerResponse, file: string) => {
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  };
  const inside = (root: string, rel: string) => {
    const p = normalize(join(root, rel));
    return p === root || p.startsWith(root + sep) ? p : null;
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/checkpoints/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ methods: Object.keys(dirs) }));
      return;
    }
    const ck = /^\/checkpoints\/([a-z]+)\/(state\.json|ema\.safetensors|tokenizer\.safetensors)$/.exec(path);
    if (ck) {
      const dir = dirs[ck[1] as Method];
      return dir ? send(res, join(dir, ck[2]!)) : void res.writeHead(404).end();
    }
    if (path.startsWith('/tfjs-wasm/')) {
      const f = inside(wasmDir, path.slice('/tfjs-wasm/'.length));
      return f ? send(res, f) : void res.writeHead(403).end();
    }
    const f = inside(opts.dist, path === '/' ? 'index.html' : path.slice(1));
    return f ? send(res, f) : void res.writeHead(403).end();
  });
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok()); });
  const addr = server.address() as { port: number };
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}/`, server,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
