"""NestAR's model config and the geometry derived from it, as src/model/config.ts, zorder.ts and tokenOrder.ts
define them: defaults, unknown keys rejected, the nested module plan, the token order, the sin-cos tables."""
import math

import numpy as np

NESTAR_DEFAULTS = {
    "kind": "nestar", "gridSize": 8, "tokenDim": 16, "k": 4, "n1": 4, "numClasses": 10,
    "width": 128, "depth": 2, "heads": 4, "mlpRatio": 4, "headWidth": 128, "headDepth": 2,
    "headKind": "patch", "headHeads": 4, "order": "interleaved",
}
MODEL_KEYS = list(NESTAR_DEFAULTS) + ["lossWeights", "contextNoise"]
LN_EPS = 1e-6
PATCH_HEAD_MLP_RATIO = 2


class ConfigError(ValueError):
    pass


def module_plan(n, k, n1):
    """Module 1 makes n1 tokens one at a time; module m > 1 makes patches 2..k of P = n1*k^(m-2) tokens."""
    plans = [{"m": 1, "patch": 1, "steps": n1, "inputTokens": n1 - 1, "start": 0, "end": n1}]
    have = n1
    while have < n:
        plans.append({"m": len(plans) + 1, "patch": have, "steps": k - 1, "inputTokens": (k - 1) * have,
                      "start": have, "end": have * k})
        have *= k
    return plans


def module_weights(w, tokens):
    n = sum(tokens)
    if w is None or w == "tokens":
        return [t / n for t in tokens]
    if w == "modules":
        return [1.0] * len(tokens)
    if not isinstance(w, list) or len(w) != len(tokens) or any(not isinstance(x, (int, float)) or x < 0 for x in w):
        raise ConfigError(f"model.lossWeights must be 'tokens', 'modules' or {len(tokens)} non-negative numbers, got {w!r}")
    return [float(x) for x in w]


def resolve_nestar(partial):
    """Fills defaults and returns (config, modules); modules carry width/depth/heads/lossWeight each."""
    if not isinstance(partial, dict):
        raise ConfigError(f"model must be an object of settings, got {partial!r}")
    for key in partial:
        if key not in MODEL_KEYS:
            raise ConfigError(f"model.{key} is not a known setting; known: {', '.join(MODEL_KEYS)}")
    c = {**NESTAR_DEFAULTS, **partial}
    if c["kind"] != "nestar":
        raise ConfigError(f"model.kind {c['kind']!r} is not NestAR (nestar_torch.factory.make_model builds the baselines)")
    if c.get("contextNoise"):
        raise ConfigError("model.contextNoise: noisy-context coordination is not implemented in the PyTorch twin; train it with `nestar train`")
    for f in ("gridSize", "tokenDim", "k", "n1", "numClasses", "mlpRatio", "headWidth", "headDepth", "headHeads"):
        if not isinstance(c[f], int) or c[f] < 1:
            raise ConfigError(f"model.{f} must be a positive integer, got {c[f]!r}")
    if c["headKind"] not in ("token", "patch"):
        raise ConfigError(f"model.headKind must be one of token, patch, got {c['headKind']!r}")
    if c["order"] not in ("zorder", "interleaved"):
        raise ConfigError(f"model.order must be one of zorder, interleaved, got {c['order']!r}")
    n = c["gridSize"] ** 2
    plans = module_plan(n, c["k"], c["n1"])
    if plans[-1]["end"] != n:
        raise ConfigError(f"model.n1={c['n1']} does not fit a {c['gridSize']}x{c['gridSize']} grid with k={c['k']}")
    M = len(plans)

    def per(name):
        v = c[name]
        if isinstance(v, list):
            if len(v) != M:
                raise ConfigError(f"model.{name}: {len(v)} values given but the model has {M} modules")
            return v
        return [v] * M

    c["lossWeights"] = c.get("lossWeights", "tokens")
    weights = module_weights(c["lossWeights"], [p["end"] - p["start"] for p in plans])
    mods = []
    for p, w, d, h, lw in zip(plans, per("width"), per("depth"), per("heads"), weights):
        if w % h:
            raise ConfigError(f"module {p['m']}: width {w} is not divisible by heads {h}")
        mods.append({**p, "width": w, "depth": d, "heads": h, "lossWeight": lw})
    return c, mods


def morton_to_rowcol(index):
    row = col = 0
    b = 0
    while index >> (2 * b):
        col |= ((index >> (2 * b)) & 1) << b
        row |= ((index >> (2 * b + 1)) & 1) << b
        b += 1
    return row, col


def sequence_to_morton(order, side):
    """Morton index of each sequence position: identity (zorder) or base-4 digits reversed (interleaved)."""
    n, digits = side * side, round(math.log2(side))
    out = np.arange(n, dtype=np.int64)
    if order == "interleaved":
        for i in range(n):
            m = 0
            for d in range(digits):
                m |= ((i >> (2 * d)) & 3) << (2 * (digits - 1 - d))
            out[i] = m
    return out


def sin_cos_2d(pos, dim, grid):
    """MAE-style 2-D sin-cos features of a grid position (zeros for None): the position tables' initial values."""
    out = np.zeros(dim, dtype=np.float32)
    if pos is None:
        return out
    q = dim // 4
    for a in range(2):
        for i in range(q):
            w = (pos[a] / grid) * math.pi * math.pow(grid, i / max(1, q - 1))
            out[a * 2 * q + i] = math.sin(w)
            out[a * 2 * q + q + i] = math.cos(w)
    return out
