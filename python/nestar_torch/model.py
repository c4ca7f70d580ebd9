"""NestAR (src/model/nestar.ts) in PyTorch: M modules, each a block-causal pre-LN transformer
(src/model/transformer.ts) and a flow head, trained with the flow-matching loss of src/flow/flowMatching.ts.
Parameter names, shapes and the loss are nestar's, so weights move between the two without conversion."""
import math

import numpy as np
import torch

from .config import morton_to_rowcol, resolve_nestar, sequence_to_morton, sin_cos_2d
from .heads import PatchHead, TokenHead
from .layers import ParamStore, apply_layer_norm, apply_linear, gelu, layer_norm_params, linear


class BlockCausalTransformer:
    """[cond; tokens] with a mask letting each block of tokens see the condition, itself and earlier blocks.
    `block` is the tokens per block (equal blocks) or the block id of every input token (next-scale AR's scales)."""

    def __init__(self, ps, name, width, depth, heads, mlp_ratio, token_dim, num_classes, max_input, block, own, targets, grid):
        self.ps, self.name, self.width, self.depth, self.heads = ps, name, width, depth, heads
        C, L = width, max_input + 1
        linear(ps, f"{name}.in", token_dim, C)
        linear(ps, f"{name}.class", num_classes + 1, C, bias=False)
        own_t = np.stack([sin_cos_2d(None if j == 0 else own[j - 1], C, grid) for j in range(L)])
        tgt_t = np.stack([sin_cos_2d(targets[j], C, grid) for j in range(L)])
        ps.create(f"{name}.pos_own", [L, C], "values", own_t)
        ps.create(f"{name}.pos_target", [L, C], "values", tgt_t)
        for i in range(depth):
            p = f"{name}.blocks.{i}"
            layer_norm_params(ps, f"{p}.ln1", C)
            for q in ("q", "k", "v", "proj"):
                linear(ps, f"{p}.attn.{q}", C, C)
            layer_norm_params(ps, f"{p}.ln2", C)
            linear(ps, f"{p}.mlp.fc1", C, mlp_ratio * C)
            linear(ps, f"{p}.mlp.fc2", mlp_ratio * C, C)
        layer_norm_params(ps, f"{name}.ln_out", C)
        block_of = [-1] + ([int(b) for b in block] if isinstance(block, (list, tuple)) else [(j - 1) // block for j in range(1, L)])
        if len(block_of) != L:
            raise ValueError(f"{name}: {len(block_of) - 1} block ids for {L - 1} input tokens")
        bo = torch.tensor(block_of)
        self.mask = torch.where(bo[None, :] <= bo[:, None], 0.0, -1e9)

    def forward(self, x, onehot):
        """x [B, T, D] (T may be 0: None) and onehot [B, K+1] -> h [B, T+1, C]; row 0 is the condition slot."""
        ps, n, C, H = self.ps, self.name, self.width, self.heads
        B = onehot.shape[0]
        parts = [apply_linear(ps, f"{n}.class", onehot).reshape(B, 1, C)]
        if x is not None and x.shape[1] > 0:
            parts.append(apply_linear(ps, f"{n}.in", x))
        h = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        L = h.shape[1]
        h = h + ps[f"{n}.pos_own"][:L] + ps[f"{n}.pos_target"][:L]
        mask = self.mask[:L, :L].to(h.dtype)
        dh = C // H
        heads = lambda t: t.reshape(B, L, H, dh).permute(0, 2, 1, 3)
        for i in range(self.depth):
            p = f"{n}.blocks.{i}"
            hn = apply_layer_norm(ps, f"{p}.ln1", h)
            q, k, v = (heads(apply_linear(ps, f"{p}.attn.{w}", hn)) for w in ("q", "k", "v"))
            scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(dh)) + mask
            att = (torch.softmax(scores, -1) @ v).permute(0, 2, 1, 3).reshape(B, L, C)
            h2 = h + apply_linear(ps, f"{p}.attn.proj", att)
            m = apply_linear(ps, f"{p}.mlp.fc2", gelu(apply_linear(ps, f"{p}.mlp.fc1", apply_layer_norm(ps, f"{p}.ln2", h2))))
            h = h2 + m
        return apply_layer_norm(ps, f"{n}.ln_out", h)


class TokenModel(torch.nn.Module):
    """What every generator shares (NestAR and the baselines): its token count and class one-hots."""

    @property
    def num_tokens(self):
        return self.config["gridSize"] ** 2

    def one_hot(self, labels):
        """Labels 0..numClasses (numClasses = the null class of guidance) as one-hot rows, as nestar's classOneHot."""
        K = self.config["numClasses"]
        l = torch.as_tensor(labels, dtype=torch.long)
        if (l < 0).any() or (l > K).any():
            raise ValueError(f"labels must be 0..{K} ({K} = the null class), got {l.tolist()}")
        return torch.nn.functional.one_hot(l, K + 1)


class NestAR(TokenModel):
    def __init__(self, model_config, seed=0):
        super().__init__()
        self.config, self.modules_ = resolve_nestar(model_config)
        c = self.config
        self.ps = ParamStore(seed)
        g = c["gridSize"]
        self.seq_to_morton = sequence_to_morton(c["order"], g)
        pos = lambda i: morton_to_rowcol(int(self.seq_to_morton[i]))
        self.backbones, self.heads, self.layouts = [], [], []
        for mod in self.modules_:
            m, P, T = mod["m"], mod["patch"], mod["inputTokens"]
            own = [pos(i) for i in range(T)]
            targets = [pos(j) if m == 1 else (None if j == 0 else pos(j - 1 + P)) for j in range(T + 1)]
            self.backbones.append(BlockCausalTransformer(self.ps, f"m{m}", mod["width"], mod["depth"], mod["heads"], c["mlpRatio"],
                                                         c["tokenDim"], c["numClasses"], T, P, own, targets, g))
            kind = "token" if m == 1 else c["headKind"]
            if kind == "token":
                head = TokenHead(self.ps, f"m{m}.head", c["tokenDim"], mod["width"], c["headWidth"], c["headDepth"])
            else:
                head = PatchHead(self.ps, f"m{m}.head", c["tokenDim"], mod["width"], c["headWidth"], c["headDepth"], c["headHeads"],
                                 [pos(j) for j in range(P)], g)
            self.heads.append(head)
            self.layouts.append([(0, 1)] if m == 1 else [(0, P)] * (c["k"] - 1))

    def module_conditions(self, i, tokens_seq, onehot):
        """Conditions z [B·targets, C] and targets x [B·targets, D] of module i (teacher forcing)."""
        mod = self.modules_[i]
        B, _, D = tokens_seq.shape
        inp = tokens_seq[:, :mod["inputTokens"]] if mod["inputTokens"] > 0 else None
        h = self.backbones[i].forward(inp, onehot)
        count = mod["end"] - mod["start"]
        rows = h if mod["m"] == 1 else h[:, 1:1 + mod["inputTokens"]]
        first = 0 if mod["m"] == 1 else mod["patch"]
        x = tokens_seq[:, first:first + (count if mod["m"] == 1 else mod["inputTokens"])]
        return rows.reshape(-1, mod["width"]), x.reshape(-1, D)

    def draw_noise(self, B, repeats, time_sampling="uniform", generator=None, lo=0, hi=None, dtype=torch.float32):
        """Per module {'t': [N], 'eps': [N, D]} for a batch of B samples, sliced to samples [lo, hi), rows
        repeat-major as the loss takes them. t is one per token for a per-token head and one per patch for a
        patch head (uniform or logit-normal); eps ~ N(0, I). Every rank of a DDP job draws the global batch's
        noise from the same generator and keeps its slice, so the job computes one process's gradient."""
        hi = B if hi is None else hi
        D, draws = self.config["tokenDim"], []
        for i, mod in enumerate(self.modules_):
            S = mod["end"] - mod["start"] if mod["m"] == 1 else mod["inputTokens"]
            per_group = 1 if self.heads[i].kind == "token" else mod["patch"]
            shape = (repeats, B, S // per_group)
            if time_sampling == "logit-normal":
                t = torch.sigmoid(torch.randn(shape, generator=generator, dtype=torch.float64))
            else:
                t = torch.rand(shape, generator=generator, dtype=torch.float64)
            eps = torch.randn((repeats, B, S, D), generator=generator, dtype=torch.float64)
            t = t[:, lo:hi].repeat_interleave(per_group, dim=2)
            draws.append({"t": t.reshape(-1).to(dtype), "eps": eps[:, lo:hi].reshape(-1, D).to(dtype)})
        return draws

    def loss(self, tokens, labels, draws=None, head_repeats=4, generator=None, record=None, time_sampling="uniform"):
        """Flow-matching loss: sum over modules of lambda_m · mean squared velocity error.

        tokens [B, n, D] in Morton (data) order. draws: per module {'t': [N], 'eps': [N, D]} to replay
        (rows repeat-major, N = head_repeats · B · targets); otherwise drawn by draw_noise from `generator`.
        record(i, t, eps) sees them. Returns (total, [per-module losses]).
        """
        tokens = torch.as_tensor(tokens)
        onehot = self.one_hot(labels).to(tokens.dtype)
        tokens_seq = tokens[:, torch.as_tensor(self.seq_to_morton)]
        if draws is None:
            draws = self.draw_noise(tokens.shape[0], head_repeats, time_sampling, generator, dtype=tokens.dtype)
        per = []
        for i, mod in enumerate(self.modules_):
            z, x = self.module_conditions(i, tokens_seq, onehot)
            x, z = x.repeat(head_repeats, 1), z.repeat(head_repeats, 1)
            t = torch.as_tensor(draws[i]["t"], dtype=x.dtype).reshape(x.shape[0])
            eps = torch.as_tensor(draws[i]["eps"], dtype=x.dtype).reshape(x.shape)
            if record:
                record(i, t, eps)
            tc = t[:, None]
            y = (1 - tc) * eps + tc * x
            v = self.heads[i].forward(y, t, z, self.layouts[i])
            per.append(((v - (x - eps)) ** 2).mean())
        total = sum(l * mod["lossWeight"] for l, mod in zip(per, self.modules_))
        return total, per
