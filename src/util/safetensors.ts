// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}} (plus optional __metadata__), then raw bytes.
// Only F32 is needed here. Readable by the Python `safetensors` package.
export interface NamedArray { shape: number[]; data: Float32Array }

export function encodeSafetensors(tensors: Record<string, NamedArray>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: '${name}' has shape [${t.shape}] but ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
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
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error(`${source}: file too short to be safetensors`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen <= 0 || 8 + hlen > bytes.length) throw new Error(`${source}: corrupt safetensors header length ${hlen}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + hlen)).toString('utf8'));
  } catch {
    throw new Error(`${source}: safetensors header is not valid JSON`);
  }
  const base = 8 + hlen;
  const tensors: Record<string, NamedArray> = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = info as unknown as Record<string, string>; continue; }
    if (info.dtype !== 'F32') throw new Error(`${source}: tensor '${name}' has dtype ${info.dtype}; only F32 is supported`);
    const [a, b] = info.data_offsets;
    const n = info.shape.reduce((x, y) => x * y, 1);
    if (b - a !== 4 * n || base + b > bytes.length) throw new Error(`${source}: tensor '${name}' has inconsistent offsets`);
    // Copy so the result is aligned and owns its memory.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(base + a, base + b));
    tensors[name] = { shape: info.shape, data };
  }
  return { tensors, metadata };
}
