"""The two flow heads of src/flow (flowHead.ts: per-token MLP with AdaLN; patchFlowHead.ts: a small
transformer over the tokens of one patch), with nestar's parameter names. Rows are sample-major; a layout is
a list of (slot, length) segments per sample, as src/flow/head.ts defines it."""
import math

import numpy as np
import torch

from .config import PATCH_HEAD_MLP_RATIO, sin_cos_2d
from .layers import apply_linear, gelu, linear, normalize, silu

T_FREQ, T_SCALE = 256, 1000.0


def time_features(t, n, dtype):
    """DiT/MAR sinusoidal features of t·1000: cos first, sin second, max period 1e4 (t: float or [N])."""
    half = T_FREQ // 2
    tv = (torch.full((n,), float(t), dtype=torch.float64) if not torch.is_tensor(t) else t.to(torch.float64)) * T_SCALE
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    a = tv[:, None] * freqs[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], 1).to(dtype)


def _input_layers(ps, name, token_dim, cond_dim, W):
    """What both heads start with: the time embedding MLP, the condition projection, the token projection."""
    linear(ps, f"{name}.t_emb.fc1", T_FREQ, W)
    linear(ps, f"{name}.t_emb.fc2", W, W)
    linear(ps, f"{name}.z_proj", cond_dim, W)
    linear(ps, f"{name}.in", token_dim, W)


def _final_layers(ps, name, token_dim, W):
    """What both heads end with: a zero-initialised AdaLN modulation and output layer."""
    linear(ps, f"{name}.final.ada_shift", W, W, zero=True)
    linear(ps, f"{name}.final.ada_scale", W, W, zero=True)
    linear(ps, f"{name}.final.out", W, token_dim, zero=True)


def _condition(L, t, z, n, dtype):
    """c = silu(emb(t) + proj(z)), the AdaLN input of every row."""
    return silu(L("t_emb.fc2", silu(L("t_emb.fc1", time_features(t, n, dtype)))) + L("z_proj", z))


def _modulate(L, x, p, c):
    """AdaLN: the unit-normalised x shifted and scaled by the layers `p`.ada_shift / `p`.ada_scale of c."""
    return normalize(x) * (1 + L(f"{p}.ada_scale", c)) + L(f"{p}.ada_shift", c)


def layout_rows(layout):
    return sum(length for _, length in layout)


class TokenHead:
    kind = "token"

    def __init__(self, ps, name, token_dim, cond_dim, width, depth):
        self.ps, self.name, self.depth = ps, name, depth
        W = width
        _input_layers(ps, name, token_dim, cond_dim, W)
        for i in range(depth):
            p = f"{name}.blocks.{i}"
            for m in ("ada_shift", "ada_scale", "ada_gate"):
                linear(ps, f"{p}.{m}", W, W, zero=True)
            linear(ps, f"{p}.fc1", W, W)
            linear(ps, f"{p}.fc2", W, W)
        _final_layers(ps, name, token_dim, W)

    def forward(self, y, t, z, layout=None):
        L = lambda nm, x: apply_linear(self.ps, f"{self.name}.{nm}", x)
        c = _condition(L, t, z, y.shape[0], y.dtype)
        h = L("in", y)
        for i in range(self.depth):
            b = f"blocks.{i}"
            h = h + L(f"{b}.ada_gate", c) * L(f"{b}.fc2", silu(L(f"{b}.fc1", _modulate(L, h, b, c))))
        return L("final.out", _modulate(L, h, "final", c))


class PatchHead:
    kind = "patch"

    def __init__(self, ps, name, token_dim, cond_dim, width, depth, heads, slot_positions, grid):
        if width % heads:
            raise ValueError(f"{name}: head width {width} is not divisible by its {heads} attention heads")
        self.ps, self.name, self.depth, self.heads, self.width = ps, name, depth, heads, width
        W = width
        _input_layers(ps, name, token_dim, cond_dim, W)
        table = np.stack([sin_cos_2d(p, W, grid) for p in slot_positions])
        ps.create(f"{name}.pos", [len(slot_positions), W], "values", table)
        for i in range(depth):
            p = f"{name}.blocks.{i}"
            for m in ("ada_shift", "ada_scale", "ada_gate"):
                linear(ps, f"{p}.attn.{m}", W, W, zero=True)
            for q in ("q", "k", "v", "proj"):
                linear(ps, f"{p}.attn.{q}", W, W)
            for m in ("ada_shift", "ada_scale", "ada_gate"):
                linear(ps, f"{p}.mlp.{m}", W, W, zero=True)
            linear(ps, f"{p}.mlp.fc1", W, PATCH_HEAD_MLP_RATIO * W)
            linear(ps, f"{p}.mlp.fc2", PATCH_HEAD_MLP_RATIO * W, W)
        _final_layers(ps, name, token_dim, W)

    def forward(self, y, t, z, layout):
        L = lambda nm, x: apply_linear(self.ps, f"{self.name}.{nm}", x)
        N, W, S = y.shape[0], self.width, layout_rows(layout)
        if N % S:
            raise ValueError(f"{self.name}: {N} rows do not split into samples of {S} rows")
        G = N // S
        c = _condition(L, t, z, N, y.dtype)
        pos = self.ps[f"{self.name}.pos"]
        pos_s = torch.cat([pos[s:s + n] for s, n in layout], 0)
        h = (L("in", y).reshape(G, S, W) + pos_s).reshape(N, W)
        attend = _segment_attention(layout, G, self.heads, W, y.dtype)
        mod = lambda x, p: _modulate(L, x, p, c)
        for i in range(self.depth):
            b = f"blocks.{i}"
            hn = mod(h, f"{b}.attn")
            a = attend(L(f"{b}.attn.q", hn), L(f"{b}.attn.k", hn), L(f"{b}.attn.v", hn))
            h = h + L(f"{b}.attn.ada_gate", c) * L(f"{b}.attn.proj", a)
            hm = mod(h, f"{b}.mlp")
            h = h + L(f"{b}.mlp.ada_gate", c) * L(f"{b}.mlp.fc2", gelu(L(f"{b}.mlp.fc1", hm)))
        return L("final.out", mod(h, "final"))


def _segment_attention(layout, G, H, W, dtype):
    lens = [n for _, n in layout]
    S, dh = sum(lens), W // H
    equal = all(n == lens[0] for n in lens)
    groups, Lq = (G * len(lens), lens[0]) if equal else (G, S)
    mask = None
    if not equal:
        mask = torch.full((S, S), -1e9, dtype=dtype)
        off = 0
        for n in lens:
            mask[off:off + n, off:off + n] = 0
            off += n

    def split(x):
        return x.reshape(groups, Lq, H, dh).permute(0, 2, 1, 3)

    def attend(q, k, v):
        scores = (split(q) @ split(k).transpose(-1, -2)) * (1 / math.sqrt(dh))
        if mask is not None:
            scores = scores + mask
        att = torch.softmax(scores, -1) @ split(v)
        return att.permute(0, 2, 1, 3).reshape(groups * Lq, W)

    return attend
