#!/usr/bin/env node
// Figures for the README's reliability table (issue #18): peak RSS and wall time of nestar faced with a
// checkpoint whose weights are /dev/zero or /dev/urandom and with a real PNG decompression bomb (a ~1 MB file
// declaring 32000x32000 pixels) in an image folder. Each case runs the CLI under /usr/bin/time -v.
// Usage: node scripts/measure-hostile.mjs  -> prints a table, writes results/hostile.json
import { spawnSync } from 'node:child_process';
import { createDeflate } from 'node:zlib';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = ['node', '--import', 'tsx', 'src/cli/main.ts'];
const tmp = mkdtempSync(join(tmpdir(), 'nestar-hostile-'));
function timed(label, args) {
  const r = spawnSync('/usr/bin/time', ['-v', ...cli, ...args], { encoding: 'utf8' });
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const wall = /Elapsed \(wall clock\) time.*: (.+)/.exec(r.stderr)?.[1];
  const said = r.stderr.split('\n').find((l) => l.startsWith('nestar:') || l.startsWith('warning:')) ?? '';
  return { label, exit: r.status, peakRssMB: Math.round(rss), wall, said: said.slice(0, 160) };
}
/** A real bomb: 32000x32000 8-bit grayscale, all zero, deflated (about 1 MB), with valid CRCs. */
async function bomb(path) {
  const W = 32000, H = 32000;
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => { const len = Buffer.alloc(4); len.writeUInt32BE(data.length); const td = Buffer.concat([Buffer.from(type, 'latin1'), data]); const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([len, td, c]); };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 0;
  const parts = [];
  const d = createDeflate({ level: 9 });
  d.on('data', (b) => parts.push(b));
  const row = Buffer.alloc(W + 1), block = Buffer.concat(new Array(64).fill(row));
  for (let y = 0; y < H; y += 64) if (!d.write(block)) await new Promise((ok) => d.once('drain', ok));
  await new Promise((ok) => d.end(ok));
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
  writeFileSync(path, png);
  return png.length;
}

const src = 'checkpoints/mnist-patch/nestar';
const rows = [];
for (const [file, dev] of [['ema.safetensors', '/dev/zero'], ['ema.safetensors', '/dev/urandom'], ['state.json', '/dev/zero']]) {
  const ck = join(tmp, `ck-${file}-${dev.slice(5)}`);
  cpSync(src, ck, { recursive: true });
  rmSync(join(ck, file));
  symlinkSync(dev, join(ck, file));
  rows.push(timed(`sample: ${file} -> ${dev}`, ['sample', '--checkpoint', ck, '--n', '1', '--out', join(tmp, 'g.png')]));
  rows.push(timed(`export: ${file} -> ${dev}`, ['export', '--checkpoint', ck, '--out', join(tmp, `e-${rows.length}`)]));
}
const folder = join(tmp, 'bomb'); mkdirSync(join(folder, 'a'), { recursive: true });
const size = await bomb(join(folder, 'a', 'bomb.png'));
writeFileSync(join(folder, 'a', 'ok.png'), Buffer.from(spawnSync('node', ['-e', "const {PNG}=require('pngjs');const p=new PNG({width:8,height:8});p.data.fill(128);process.stdout.write(PNG.sync.write(p))"], { encoding: 'buffer' }).stdout));
rows.push(timed(`train on a folder with a ${(size / 1e6).toFixed(2)} MB PNG declaring 32000x32000`, ['train', '--data', folder, '--steps', '1', '--batch-size', '1', '--width', '16', '--depth', '1', '--heads', '2', '--out', join(tmp, 'run')]));
console.log('| case | exit | peak RSS | wall | what nestar said |\n|---|---:|---:|---:|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.exit} | ${r.peakRssMB} MB | ${r.wall} | ${r.said.replace(/\|/g, '/')} |`);
writeFileSync('results/hostile.json', JSON.stringify({ date: new Date().toISOString(), rows }, null, 1) + '\n');
rmSync(tmp, { recursive: true, force: true });
