"""The baselines of src/model in PyTorch, with nestar's parameter names, so the comparison in RESULTS.md can be
re-run at any scale: raster AR (rasterAR.ts: one causal transformer, one token a step, the per-token head) and
next-scale AR (nextScaleAR.ts: token maps at sides 1, 2, 4, ..., G, each predicted from the upsampled previous
one under a block-causal mask over scales, the patch head over a whole scale). Their configs resolve as
baselineConfig.ts resolves them: unless depth is given, the depth whose parameter count is closest to the NestAR
of the same settings (closed-form counts, paramCount.ts)."""
import torch

from .config import (ConfigError, MODEL_KEYS, NESTAR_DEFAULTS, PATCH_HEAD_MLP_RATIO, module_weights, morton_to_rowcol, resolve_nestar)
from .heads import PatchHead, TokenHead
from .layers import ParamStore
from .model import BlockCausalTransformer, TokenModel


def transformer_params(C, depth, r, token_dim, num_classes, seq_len):
    block = 4 * (C * C + C) + 4 * C + (C * r * C + r * C) + (r * C * C + C)
    return token_dim * C + C + (num_classes + 1) * C + 2 * seq_len * C + depth * block + 2 * C


def _lin(i, o):
    return i * o + o


def head_params(kind, token_dim, cond, W, depth, slots):
    start = _lin(256, W) + _lin(W, W) + _lin(cond, W) + _lin(token_dim, W)
    end = 2 * _lin(W, W) + _lin(W, token_dim)
    if kind == "token":
        return start + depth * 5 * _lin(W, W) + end
    block = 10 * _lin(W, W) + _lin(W, PATCH_HEAD_MLP_RATIO * W) + _lin(PATCH_HEAD_MLP_RATIO * W, W)
    return start + slots * W + depth * block + end


def next_scale_sides(g):
    sides, s = [], 1
    while s <= g:
        sides.append(s)
        s *= 2
    return sides


def loss_groups(kind, g):
    return [g * g] if kind == "raster" else [s * s for s in next_scale_sides(g)]


def input_tokens(kind, g):
    return g * g - 1 if kind == "raster" else sum(s * s for s in next_scale_sides(g)[1:])


def baseline_params(c, depth):
    T, slots = input_tokens(c["kind"], c["gridSize"]), sum(loss_groups(c["kind"], c["gridSize"]))
    return (transformer_params(c["width"], depth, c["mlpRatio"], c["tokenDim"], c["numClasses"], T + 1)
            + head_params(c["headKind"], c["tokenDim"], c["width"], c["headWidth"], c["headDepth"], slots))


def nestar_params(c):
    cfg, mods = resolve_nestar(c)
    return sum(transformer_params(m["width"], m["depth"], cfg["mlpRatio"], cfg["tokenDim"], cfg["numClasses"], m["inputTokens"] + 1)
               + head_params("token" if m["m"] == 1 else cfg["headKind"], cfg["tokenDim"], m["width"], cfg["headWidth"], cfg["headDepth"], m["patch"])
               for m in mods)


def resolve_baseline(partial, kind):
    """baselineConfig.ts's resolveBaselineConfig: NestAR-only settings (k, n1, order) are ignored."""
    for key in partial:
        if key not in MODEL_KEYS:
            raise ConfigError(f"model.{key} is not a known setting; known: {', '.join(MODEL_KEYS)}")
    base = {**NESTAR_DEFAULTS, **partial}
    if base.get("contextNoise"):
        raise ConfigError("model.contextNoise: noisy-context coordination is not implemented in the PyTorch twin; train it with `nestar train`")
    for f in ("gridSize", "tokenDim", "numClasses", "width", "heads", "mlpRatio", "headWidth", "headDepth", "headHeads"):
        if not isinstance(base[f], int) or base[f] < 1:
            raise ConfigError(f"model.{f} must be a positive integer for method {kind}, got {base[f]!r}")
    if base["headKind"] not in ("token", "patch"):
        raise ConfigError(f"model.headKind must be one of token, patch, got {base['headKind']!r}")
    g = base["gridSize"]
    if g & (g - 1):
        raise ConfigError(f"model.gridSize must be a power of 2 (e.g. 4, 8, 16), got {g}")
    if base["width"] % base["heads"]:
        raise ConfigError(f"model.width {base['width']} is not divisible by heads {base['heads']}")
    head_kind = "token" if kind == "raster" else base["headKind"]
    c = {"kind": kind, "gridSize": g, "tokenDim": base["tokenDim"], "numClasses": base["numClasses"], "width": base["width"],
         "heads": base["heads"], "mlpRatio": base["mlpRatio"], "headWidth": base["headWidth"], "headDepth": base["headDepth"],
         "headKind": head_kind, "headHeads": base["headHeads"], "lossWeights": base.get("lossWeights", "tokens")}
    module_weights(c["lossWeights"], loss_groups(kind, g))
    depth = partial.get("depth")
    if depth is None:
        nestar = {k: v for k, v in base.items() if k in NESTAR_DEFAULTS and k not in ("kind", "depth")}
        target = nestar_params({**nestar, "kind": "nestar", "depth": NESTAR_DEFAULTS["depth"], "headKind": base["headKind"]})
        depth = min(range(1, 65), key=lambda d: (abs(baseline_params(c, d) - target), d))
    if not isinstance(depth, int) or depth < 1:
        raise ConfigError(f"model.depth must be a positive integer, got {depth!r}")
    return {**c, "depth": depth}


class _Baseline(TokenModel):
    """What both baselines share: one backbone, one head, the loss over groups of output rows."""

    def draw_noise(self, B, repeats, time_sampling="uniform", generator=None, lo=0, hi=None, dtype=torch.float32):
        """One part: t per row (per-token head) or per scale of each sample (patch head), eps ~ N(0, I); rows repeat-major."""
        hi = B if hi is None else hi
        D, rows = self.config["tokenDim"], self.rows
        groups = [1] * rows if self.head.kind == "token" else [n for _, n in self.layout]
        shape = (repeats, B, len(groups))
        t = torch.sigmoid(torch.randn(shape, generator=generator, dtype=torch.float64)) if time_sampling == "logit-normal" \
            else torch.rand(shape, generator=generator, dtype=torch.float64)
        eps = torch.randn((repeats, B, rows, D), generator=generator, dtype=torch.float64)
        t = t[:, lo:hi].repeat_interleave(torch.as_tensor(groups), dim=2)
        return [{"t": t.reshape(-1).to(dtype), "eps": eps[:, lo:hi].reshape(-1, D).to(dtype)}]

    def grouped_loss(self, targets, h, draws, head_repeats, record=None):
        """Flow-matching errors of every output row, meaned per group and weighted (generator.ts groupedHeadLoss)."""
        B, L, D = targets.shape
        x = targets.reshape(-1, D).repeat(head_repeats, 1)
        z = h.reshape(-1, self.config["width"]).repeat(head_repeats, 1)
        t = torch.as_tensor(draws[0]["t"], dtype=x.dtype).reshape(x.shape[0])
        eps = torch.as_tensor(draws[0]["eps"], dtype=x.dtype).reshape(x.shape)
        if record:
            record(0, t, eps)
        tc = t[:, None]
        err = (self.head.forward((1 - tc) * eps + tc * x, t, z, self.layout) - (x - eps)) ** 2
        rows = err.reshape(-1, L, D)
        per, off = [], 0
        for g in self.groups:
            per.append(rows[:, off:off + g].mean())
            off += g
        return sum(l * w for l, w in zip(per, self.weights)), per


class RasterAR(_Baseline):
    def __init__(self, model_config, seed=0):
        super().__init__()
        self.config = c = resolve_baseline({k: v for k, v in model_config.items() if k != "kind"}, "raster")
        g, n = c["gridSize"], c["gridSize"] ** 2
        rc = lambda r: (r // g, r % g)
        self.raster_to_morton = [next(i for i in range(n) if morton_to_rowcol(i) == rc(r)) for r in range(n)]
        self.ps = ParamStore(seed)
        self.backbone = BlockCausalTransformer(self.ps, "ar", c["width"], c["depth"], c["heads"], c["mlpRatio"], c["tokenDim"],
                                               c["numClasses"], n - 1, 1, [rc(i) for i in range(n - 1)], [rc(j) for j in range(n)], g)
        self.head = TokenHead(self.ps, "ar.head", c["tokenDim"], c["width"], c["headWidth"], c["headDepth"])
        self.groups, self.rows, self.layout = [n], n, [(0, 1)]
        self.weights = module_weights(c["lossWeights"], [n])

    def loss(self, tokens, labels, draws=None, head_repeats=4, generator=None, record=None, time_sampling="uniform"):
        tokens = torch.as_tensor(tokens)
        B, n, _ = tokens.shape
        raster = tokens[:, torch.as_tensor(self.raster_to_morton)]
        if draws is None:
            draws = self.draw_noise(B, head_repeats, time_sampling, generator, dtype=tokens.dtype)
        h = self.backbone.forward(raster[:, :n - 1], self.one_hot(labels).to(tokens.dtype))
        return self.grouped_loss(raster, h, draws, head_repeats, record)


def downsample(tokens, side):
    """tokens [B, n, D] (Morton) -> the side x side map [B, side², D] by area averaging (contiguous in Z-order)."""
    B, n, D = tokens.shape
    cells = side * side
    return tokens if cells == n else tokens.reshape(B, cells, n // cells, D).mean(2)


def upsample(m, factor=4):
    """Nearest upsampling of a Morton-ordered map: [B, m, D] -> [B, factor·m, D]."""
    B, M, D = m.shape
    return m[:, :, None, :].expand(B, M, factor, D).reshape(B, M * factor, D)


class NextScaleAR(_Baseline):
    def __init__(self, model_config, seed=0):
        super().__init__()
        self.config = c = resolve_baseline({k: v for k, v in model_config.items() if k != "kind"}, "nextscale")
        g = c["gridSize"]
        self.sides = next_scale_sides(g)

        def cell(side, q):
            r, col = morton_to_rowcol(q)
            f = g / side
            return ((r + 0.5) * f - 0.5, (col + 0.5) * f - 0.5)

        own, block_ids, targets = [], [], [cell(1, 0)]
        for j, side in enumerate(self.sides[1:]):
            for q in range(side * side):
                own.append(cell(side, q))
                targets.append(cell(side, q))
                block_ids.append(j)
        self.ps = ParamStore(seed)
        self.backbone = BlockCausalTransformer(self.ps, "ns", c["width"], c["depth"], c["heads"], c["mlpRatio"], c["tokenDim"],
                                               c["numClasses"], len(own), block_ids, own, targets, g)
        self.layout, slot = [], 0
        for side in self.sides:
            self.layout.append((slot, side * side))
            slot += side * side
        if c["headKind"] == "token":
            self.head = TokenHead(self.ps, "ns.head", c["tokenDim"], c["width"], c["headWidth"], c["headDepth"])
        else:
            self.head = PatchHead(self.ps, "ns.head", c["tokenDim"], c["width"], c["headWidth"], c["headDepth"], c["headHeads"], targets, g)
        self.groups = [s * s for s in self.sides]
        self.rows = sum(self.groups)
        self.weights = module_weights(c["lossWeights"], self.groups)

    def loss(self, tokens, labels, draws=None, head_repeats=4, generator=None, record=None, time_sampling="uniform"):
        tokens = torch.as_tensor(tokens)
        B = tokens.shape[0]
        maps = [downsample(tokens, s) for s in self.sides]
        if draws is None:
            draws = self.draw_noise(B, head_repeats, time_sampling, generator, dtype=tokens.dtype)
        gt = torch.cat([upsample(m) for m in maps[:-1]], 1)
        h = self.backbone.forward(gt, self.one_hot(labels).to(tokens.dtype))
        return self.grouped_loss(torch.cat(maps, 1), h, draws, head_repeats, record)
