import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchTokenizer } from '../src/tokenizer/patchTokenizer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadImageFolder } from '../src/data/imageFolder.js';
import { encodePng } from '../src/util/png.js';
import { decodeSafetensors, encodeSafetensors, f16ToF32, f32ToF16 } from '../src/util/safetensors.js';

test('MNIST loads padded to 32x32 in [-1, 1] with labels', () => {
  const ds = loadMnist({ split: 'test', limit: 100 });
  assert.equal(ds.count, 100);
  assert.equal(ds.height, 32);
  assert.equal(ds.data.length, 100 * 32 * 32);
  assert.ok(ds.data.every((v) => v >= -1 && v <= 1));
  assert.ok(ds.labels.every((l) => l >= 0 && l <= 9));
  // The 2-pixel border is padding (background = -1); digits have ink inside.
  for (let x = 0; x < 32; x++) assert.equal(ds.data[x], -1);
  assert.ok(ds.data.subarray(0, 1024).some((v) => v > 0.5));
});

test('patch tokenizer is exactly invertible and lays tokens out in Z-order', () => {
  for (const [size, ch, p] of [[32, 1, 4], [32, 1, 2], [8, 3, 2]] as const) {
    const tok = new PatchTokenizer(size, ch, p);
    const n = 3;
    const data = Float32Array.from({ length: n * size * size * ch }, (_, i) => Math.sin(i * 12.9898) );
    const tokens = tok.encode({ data, count: n, height: size, width: size, channels: ch });
    assert.equal(tokens.length, n * tok.numTokens * tok.tokenDim);
    assert.deepEqual(tok.decode(tokens, n).data, data);
  }
  // Token 1 in Z-order is the patch to the right of token 0; token 2 is below token 0.
  const tok = new PatchTokenizer(4, 1, 2);
  const img = Float32Array.from({ length: 16 }, (_, i) => i);
  const t = tok.encode({ data: img, count: 1, height: 4, width: 4, channels: 1 });
  assert.deepEqual([...t.subarray(0, 4)], [0, 1, 4, 5]);
  assert.deepEqual([...t.subarray(4, 8)], [2, 3, 6, 7]);
  assert.deepEqual([...t.subarray(8, 12)], [8, 9, 12, 13]);
});

function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([...rgb, 255], i * 4);
  return encodePng(w, h, rgba);
}

test('image folder: classes from sub-folders, resize/crop, corrupt files skipped with a warning naming them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-img-'));
  mkdirSync(join(dir, 'cats')); mkdirSync(join(dir, 'dogs'));
  writeFileSync(join(dir, 'cats', 'a.png'), png(20, 10, [255, 255, 255]));
  writeFileSync(join(dir, 'dogs', 'b.png'), png(8, 8, [0, 0, 0]));
  writeFileSync(join(dir, 'dogs', 'broken.jpg'), Buffer.from('definitely not a jpeg'));
  const warnings: string[] = [];
  const ds = loadImageFolder(dir, { size: 4, channels: 3, warn: (m) => warnings.push(m) });
  assert.equal(ds.count, 2);
  assert.deepEqual(ds.classNames, ['cats', 'dogs']);
  assert.deepEqual([...ds.labels], [0, 1]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /broken\.jpg/);
  assert.ok(ds.data.subarray(0, 48).every((v) => Math.abs(v - 1) < 1e-6));
  assert.ok(ds.data.subarray(48).every((v) => Math.abs(v + 1) < 1e-6));
});

test('image folder: an empty folder or a missing one is an error naming the folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-empty-'));
  assert.throws(() => loadImageFolder(dir, { size: 8, channels: 1 }), new RegExp(`image folder '${dir}' contains no PNG or JPEG images`));
  assert.throws(() => loadImageFolder(join(dir, 'missing'), { size: 8, channels: 1 }), /does not exist/);
});

test('safetensors round trip keeps names, shapes, values and metadata', () => {
  const a = { w: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, b: { shape: [1], data: Float32Array.from([-0.5]) } };
  const bytes = encodeSafetensors(a, { step: '7' });
  const r = decodeSafetensors(bytes);
  assert.deepEqual(r.tensors, a);
  assert.deepEqual(r.metadata, { step: '7' });
  assert.throws(() => decodeSafetensors(bytes.subarray(0, 20), 'x.safetensors'), /x.safetensors/);
});

test('F16 safetensors: every half value round-trips, rounding is to nearest even, overflow is refused', () => {
  // All 63488 finite halves (and ±inf) survive half -> single -> half unchanged.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff)) continue; // NaNs
    assert.equal(f32ToF16(f16ToF32(h)), h, `half 0x${h.toString(16)}`);
  }
  // Known encodings, and ties between neighbours go to the even one.
  assert.deepEqual([1, -2, 65504, 2 ** -24, 2 ** -14].map(f32ToF16), [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400]);
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // halfway between 0x3c00 and 0x3c01: even
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // halfway between 0x3c01 and 0x3c02: even
  assert.equal(f32ToF16(2 ** -25), 0); // halfway between 0 and the smallest subnormal
  // A file written as F16 reads back as F32 within half precision and is half the size.
  const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
  const w = { w: { shape: [10, 100], data } };
  const f16 = encodeSafetensors(w, undefined, 'F16'), f32 = encodeSafetensors(w);
  assert.ok(f16.length < f32.length * 0.55, `${f16.length} vs ${f32.length} bytes`);
  const back = decodeSafetensors(f16).tensors.w!;
  assert.deepEqual(back.shape, [10, 100]);
  for (let i = 0; i < data.length; i++) assert.ok(Math.abs(back.data[i]! - data[i]!) <= Math.abs(data[i]!) * 2 ** -11 + 2 ** -25, `value ${i}`);
  assert.throws(() => encodeSafetensors({ big: { shape: [1], data: Float32Array.from([1e5]) } }, undefined, 'F16'), /'big'\[0\] = 100000 does not fit in F16/);
});
