// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}} (plus optional __metadata__), then raw bytes.
// Written as F32 (training state) or F16 (optional storage for shipped sampling weights, `nestar export
// --fp16`); both read back as Float32Array. Readable by the Python `safetensors` package.
// The reader treats its input as hostile: every failure is a SafetensorsError, checked before any
// allocation sized by the file's claims.
/** A tensor's shape and float32 data, as safetensors files hold them. */
export interface NamedArray { shape: number[]; data: Float32Array }

export class SafetensorsError extends Error {}

/** Largest header accepted (the reference implementation uses 100 MB too). */
const MAX_HEADER = 100_000_000;

export type StorageDtype = 'F32' | 'F16';
const BYTES: Record<StorageDtype, number> = { F32: 4, F16: 2 };

/** Named arrays as a safetensors file (F32 or F16 storage). */
export function encodeSafetensors(tensors: Record<string, NamedArray>, metadata?: Record<string, string>, dtype: StorageDtype = 'F32'): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const size = BYTES[dtype];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: '${name}' has shape [${t.shape}] but ${t.data.length} values`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size * n] };
    offset += size * n;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned (as the reference writer does).
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const hbytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    if (dtype === 'F32') out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    else {
      for (let i = 0; i < d.length; i++) {
        const h = f32ToF16(d[i]!);
        // Half precision tops out at 65504: a larger weight would silently become infinity.
        if ((h & 0x7c00) === 0x7c00 && Number.isFinite(d[i]!)) throw new Error(`safetensors: '${name}'[${i}] = ${d[i]} does not fit in F16 (|x| <= 65504)`);
        dv.setUint16(pos + 2 * i, h, true);
      }
    }
    pos += size * d.length;
  }
  return out;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** IEEE half from single precision, round to nearest even (subnormals included). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!, sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff, man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    const m = man | 0x800000, shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry into the exponent is still correct
  return h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >>> 10) & 0x1f, man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parses and checks a safetensors file (F32 or F16) into float32 arrays; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (why: string): never => { throw new SafetensorsError(`${source}: ${why}`); };
  if (bytes.length < 8) fail(`file too short to be safetensors (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlenBig = dv.getBigUint64(0, true);
  if (hlenBig === 0n || hlenBig > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) fail(`header length ${hlenBig} is past the end of the file or over ${MAX_HEADER} bytes`);
  const hlen = Number(hlenBig);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    // Deeply nested JSON overflows the parser's stack: a RangeError, reported like any bad header.
    fail(`header is not valid JSON (${(e as Error).name})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const base = 8 + hlen, dataLen = bytes.length - base;
  const tensors: Record<string, NamedArray> = {};
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string, number]> = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info) || Object.values(info).some((v) => typeof v !== 'string')) fail('__metadata__ must map names to strings');
      metadata = info as Record<string, string>;
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) fail(`tensor '${name}' has no description`);
    if (t.dtype !== 'F32' && t.dtype !== 'F16') fail(`tensor '${name}' has dtype ${JSON.stringify(t.dtype)}; only F32 and F16 are supported`);
    const size = BYTES[t.dtype as StorageDtype];
    if (!Array.isArray(t.shape) || t.shape.length > 8 || !t.shape.every(isCount)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(t.shape)}`);
    const shape = t.shape as number[];
    const n = shape.reduce((x, y) => x * y, 1);
    if (!Array.isArray(t.data_offsets) || t.data_offsets.length !== 2 || !t.data_offsets.every(isCount)) fail(`tensor '${name}' has invalid data_offsets`);
    const [a, b] = t.data_offsets as [number, number];
    if (b < a || b > dataLen) fail(`tensor '${name}' has offsets [${a}, ${b}] outside the ${dataLen} data bytes`);
    if (!Number.isSafeInteger(size * n) || b - a !== size * n) fail(`tensor '${name}' has shape [${shape}] but ${b - a} bytes`);
    spans.push([a, b, name, size]);
    tensors[name] = { shape, data: new Float32Array(0) };
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) fail(`tensors '${spans[i - 1]![2]}' and '${spans[i]![2]}' overlap`);
  // All checks passed: now allocate (sizes are bounded by the file's own length).
  for (const [a, b, name, size] of spans) {
    const data = new Float32Array((b - a) / size);
    if (size === 4) new Uint8Array(data.buffer).set(bytes.subarray(base + a, base + b));
    else for (let i = 0; i < data.length; i++) data[i] = f16ToF32(dv.getUint16(base + a + 2 * i, true));
    tensors[name]!.data = data;
  }
  return { tensors, metadata };
}
