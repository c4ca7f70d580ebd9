#!/usr/bin/env python3
"""Golden numerics for the patch flow head (src/flow/patchFlowHead.ts), computed with PyTorch in float64.

Writes test/fixtures/patch-head.json: random weights named as nestar names them, a noisy patch batch, per-row
times and conditions, and the PyTorch velocities for two layouts: equal segments (folded into the batch) and
unequal ones (attention under a block-diagonal mask, as next-scale AR's scales use it).
Run: /usr/bin/python3 scripts/make_patch_head_fixture.py
"""
import json
import math
import os

import torch

torch.manual_seed(4321)
torch.set_default_dtype(torch.float64)
EPS = 1e-6
D, CZ, W, HEADS, DEPTH, RATIO, TF, SLOTS = 3, 8, 16, 2, 2, 2, 256, 5
p = 'ph'


def rnd(*shape, scale=0.3):
    return (torch.randn(*shape) * scale).float().double()


def lin(w, x, name):
    return x @ w[name + '.w'] + w[name + '.b']


def ln(x):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + EPS)


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


Wt = {}
shapes = [('t_emb.fc1', (TF, W)), ('t_emb.fc2', (W, W)), ('z_proj', (CZ, W)), ('in', (D, W)),
          ('final.ada_shift', (W, W)), ('final.ada_scale', (W, W)), ('final.out', (W, D))]
for i in range(DEPTH):
    b = f'blocks.{i}'
    shapes += [(f'{b}.attn.ada_{n}', (W, W)) for n in ['shift', 'scale', 'gate']]
    shapes += [(f'{b}.attn.{n}', (W, W)) for n in 'qkv'] + [(f'{b}.attn.proj', (W, W))]
    shapes += [(f'{b}.mlp.ada_{n}', (W, W)) for n in ['shift', 'scale', 'gate']]
    shapes += [(f'{b}.mlp.fc1', (W, RATIO * W)), (f'{b}.mlp.fc2', (RATIO * W, W))]
for name, shape in shapes:
    Wt[f'{p}.{name}.w'] = rnd(*shape, scale=0.25)
    Wt[f'{p}.{name}.b'] = rnd(shape[1], scale=0.1)
Wt[f'{p}.pos'] = rnd(SLOTS, W)
silu = torch.nn.functional.silu


def forward(y, t, z, segments):
    S = sum(l for _, l in segments)
    G = y.shape[0] // S
    half = TF // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    a = (t * 1000)[:, None] * freqs[None]
    temb = torch.cat([torch.cos(a), torch.sin(a)], 1)
    c = silu(lin(Wt, silu(lin(Wt, temb, f'{p}.t_emb.fc1')), f'{p}.t_emb.fc2') + lin(Wt, z, f'{p}.z_proj'))
    pos = torch.cat([Wt[f'{p}.pos'][s:s + l] for s, l in segments], 0)
    h = (lin(Wt, y, f'{p}.in').reshape(G, S, W) + pos).reshape(G * S, W)
    seg_of = sum(([i] * l for i, (_, l) in enumerate(segments)), [])
    mask = torch.tensor([[0.0 if seg_of[i] == seg_of[j] else -1e9 for j in range(S)] for i in range(S)])
    dh = W // HEADS

    def attend(q, k, v):
        sp = lambda x: x.reshape(G, S, HEADS, dh).permute(0, 2, 1, 3)
        att = torch.softmax(sp(q) @ sp(k).transpose(-1, -2) / math.sqrt(dh) + mask, -1) @ sp(v)
        return att.permute(0, 2, 1, 3).reshape(G * S, W)

    def mod(x, pre):
        return ln(x) * (1 + lin(Wt, c, f'{pre}.ada_scale')) + lin(Wt, c, f'{pre}.ada_shift')

    for i in range(DEPTH):
        b = f'{p}.blocks.{i}'
        hn = mod(h, f'{b}.attn')
        h = h + lin(Wt, c, f'{b}.attn.ada_gate') * lin(Wt, attend(*(lin(Wt, hn, f'{b}.attn.{n}') for n in 'qkv')), f'{b}.attn.proj')
        hm = mod(h, f'{b}.mlp')
        h = h + lin(Wt, c, f'{b}.mlp.ada_gate') * lin(Wt, gelu_tanh(lin(Wt, hm, f'{b}.mlp.fc1')), f'{b}.mlp.fc2')
    hf = ln(h) * (1 + lin(Wt, c, f'{p}.final.ada_scale')) + lin(Wt, c, f'{p}.final.ada_shift')
    return lin(Wt, hf, f'{p}.final.out')


cases = []
for segments in [[(0, 2), (0, 2), (0, 2)], [(0, 1), (1, 4)]]:
    S = sum(l for _, l in segments)
    G = 2
    y = rnd(G * S, D, scale=1.0)
    tper = torch.rand(G * len(segments)).float().double()
    t = torch.cat([tper[g * len(segments) + i].repeat(l) for g in range(G) for i, (_, l) in enumerate(segments)])
    z = rnd(G * S, CZ, scale=1.0)
    cases.append({'segments': [{'slot': s, 'length': l} for s, l in segments], 'n': G * S,
                  'y': y.flatten().tolist(), 't': t.tolist(), 'z': z.flatten().tolist(), 'out': forward(y, t, z, segments).flatten().tolist()})

path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'patch-head.json')
with open(path, 'w') as f:
    json.dump({'generator': 'scripts/make_patch_head_fixture.py', 'torch': torch.__version__,
               'spec': {'tokenDim': D, 'condDim': CZ, 'width': W, 'heads': HEADS, 'depth': DEPTH, 'slots': SLOTS},
               'weights': {k: {'shape': list(v.shape), 'data': v.flatten().tolist()} for k, v in Wt.items()}, 'cases': cases}, f)
print('wrote', os.path.normpath(path))
