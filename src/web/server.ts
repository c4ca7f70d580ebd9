// `nestar web`: builds the page with Vite (once, or when asked) and serves it with the checkpoints and
// tfjs's WASM binaries from one origin on localhost.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, realpathSync, statSync } from 'node:fs';
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

/**
 * Builds web/ into web/dist with Vite; returns the dist folder. The package ships web/dist prebuilt, so only a
 * checkout (where Vite is a development dependency) or `nestar web --rebuild` needs this.
 */
export async function buildWeb(): Promise<string> {
  let build: typeof import('vite').build;
  try {
    ({ build } = await import('vite'));
  } catch {
    throw new Error(`the browser page is not built (${join(WEB_ROOT, 'dist')} has no index.html) and Vite, which builds it, is not installed; run \`npm install vite\` in ${dirname(WEB_ROOT)} or reinstall nestar`);
  }
  await build({ configFile: join(WEB_ROOT, 'vite.config.ts'), root: WEB_ROOT, logLevel: 'warn' });
  return join(WEB_ROOT, 'dist');
}

/** A running `nestar web` server. */
export interface WebServer {
  /** The page's address. */
  url: string;
  server: Server;
  /** Stops the server, dropping open connections. */
  close: () => Promise<void>;
}

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
  const roots = new Map<string, string>(); // a served root -> its real path (symlinks resolved once)
  const real = (p: string) => { try { return realpathSync(p); } catch { return null; } };
  /**
   * Sends `file` if, with every symlink resolved, it is a regular file inside `root` (a state.json that links
   * to /etc/passwd is refused, like any path out of the served folders).
   */
  const send = (req: IncomingMessage, res: ServerResponse, root: string, file: string) => {
    if (!roots.has(root)) roots.set(root, real(root) ?? root);
    const rroot = roots.get(root)!, rfile = real(file);
    if (!rfile || !(rfile === rroot || rfile.startsWith(rroot + sep))) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    let size: number;
    try {
      const st = statSync(rfile);
      if (!st.isFile()) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      size = st.size;
    } catch {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(rfile);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
  const inside = (root: string, rel: string) => {
    const p = normalize(join(root, rel));
    return p === root || p.startsWith(root + sep) ? p : null;
  };
  const host = opts.host ?? '127.0.0.1';
  let allowedHosts = new Set<string>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
    // DNS rebinding: a page on another origin whose name resolves to 127.0.0.1 sends its own Host header.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return void res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request: unknown Host header');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return void res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request: malformed URL');
    }
    if (path.includes('\0')) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request');
    if (path === '/checkpoints/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ methods: Object.keys(dirs) }));
      return;
    }
    const ck = /^\/checkpoints\/([a-z]+)\/(state\.json|ema\.safetensors|tokenizer\.safetensors)$/.exec(path);
    if (ck) {
      const dir = dirs[ck[1] as Method];
      return dir ? send(req, res, dir, join(dir, ck[2]!)) : void res.writeHead(404).end();
    }
    if (path.startsWith('/tfjs-wasm/')) {
      const f = inside(wasmDir, path.slice('/tfjs-wasm/'.length));
      return f ? send(req, res, wasmDir, f) : void res.writeHead(403).end();
    }
    const f = inside(opts.dist, path === '/' ? 'index.html' : path.slice(1));
    return f ? send(req, res, opts.dist, f) : void res.writeHead(403).end();
  };
  const server = createServer((req, res) => {
    // Nothing a request holds may take the server down: any failure is that request's 500.
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    }
  });
  server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); else socket.destroy(); });
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok()); });
  const addr = server.address() as { port: number };
  allowedHosts = new Set([`${host}:${addr.port}`, ...(host === '127.0.0.1' || host === 'localhost' || host === '::1' ? [`localhost:${addr.port}`, `127.0.0.1:${addr.port}`, `[::1]:${addr.port}`] : [])]);
  return {
    url: `http://${host}:${addr.port}/`, server,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
