"""Reads and writes safetensors files (F32 and F16) with numpy only: nestar's checkpoint tensors.

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} with an
optional __metadata__, then the raw little-endian bytes. Written like src/util/safetensors.ts (names sorted,
header padded so data starts 8-byte aligned), so files round-trip between the two implementations.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    pass


def read_safetensors(path):
    """{name: float32 ndarray} and the metadata dict of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER or 8 + n > len(raw):
        raise SafetensorsError(f"{path}: header length {n} exceeds the file ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, spec in header.items():
        dt = _DTYPES.get(spec.get("dtype"))
        if dt is None:
            raise SafetensorsError(f"{path}: tensor '{name}' has dtype {spec.get('dtype')!r}; expected F32 or F16")
        shape = [int(s) for s in spec["shape"]]
        a, b = (int(x) for x in spec["data_offsets"])
        count = int(np.prod(shape)) if shape else 1
        if b - a != count * dt.itemsize or b > len(data) or a < 0:
            raise SafetensorsError(f"{path}: tensor '{name}' offsets {a}..{b} do not fit shape {shape} ({dt.name})")
        out[name] = np.frombuffer(data[a:b], dtype=dt).astype(np.float32).reshape(shape)
    return out, meta


def encode_safetensors(tensors, metadata=None, dtype="F32"):
    dt = _DTYPES[dtype]
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name], dtype=np.float32)).astype(dt)
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text.encode("utf-8"))) % 8) % 8)
    h = text.encode("utf-8")
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def atomic_write(path, data):
    """Writes bytes whole or not at all: a temporary file in the same folder, fsync, rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    atomic_write(path, encode_safetensors(tensors, metadata, dtype))
