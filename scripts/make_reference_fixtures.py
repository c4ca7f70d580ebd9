#!/usr/bin/env python3
"""Golden numerics for nestar's tests, computed with PyTorch (Debian python3-torch).

Writes test/fixtures/reference.json: random weights (named exactly as nestar names its parameters),
inputs and the PyTorch outputs of (1) a depth-1 block-causal transformer and (2) the flow head.
Run: /usr/bin/python3 scripts/make_reference_fixtures.py
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)  # the reference is computed in float64; nestar runs float32
EPS = 1e-6


def rnd(*shape, scale=0.3):
    # float32-representable values, so both sides start from identical numbers
    return (torch.randn(*shape) * scale).float().double()


def ln(x, g=None, b=None):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + EPS)
    return y * g + b if g is not None else y


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def lin(w, x, name):
    return x @ w[name + '.w'] + w[name + '.b']


# ---- (1) transformer: width 16, 2 heads, depth 1, token dim 4, 3 classes (+ null), 6 input tokens, blocks of 2
C, H, D, K, T, P, B = 16, 2, 4, 3, 6, 2, 2
L = T + 1
p = 't'
W = {}
for name, shape in [('in', (D, C)), ('blocks.0.attn.q', (C, C)), ('blocks.0.attn.k', (C, C)), ('blocks.0.attn.v', (C, C)),
                    ('blocks.0.attn.proj', (C, C)), ('blocks.0.mlp.fc1', (C, 4 * C)), ('blocks.0.mlp.fc2', (4 * C, C))]:
    W[f'{p}.{name}.w'] = rnd(*shape)
    W[f'{p}.{name}.b'] = rnd(shape[1], scale=0.1)
W[f'{p}.class.w'] = rnd(K + 1, C)
W[f'{p}.pos_own'] = rnd(L, C)
W[f'{p}.pos_target'] = rnd(L, C)
for name in ['blocks.0.ln1', 'blocks.0.ln2', 'ln_out']:
    W[f'{p}.{name}.g'] = 1 + rnd(C, scale=0.1)
    W[f'{p}.{name}.b'] = rnd(C, scale=0.1)

x = rnd(B, T, D, scale=1.0)
labels = [1, 3]
onehot = torch.nn.functional.one_hot(torch.tensor(labels), K + 1).double()
cond = (onehot @ W[f'{p}.class.w']).reshape(B, 1, C)
h = torch.cat([cond, lin(W, x, f'{p}.in')], 1) + W[f'{p}.pos_own'] + W[f'{p}.pos_target']
block_of = [-1] + [(j - 1) // P for j in range(1, L)]
mask = torch.tensor([[0.0 if block_of[k] <= block_of[q] else -1e9 for k in range(L)] for q in range(L)])
hn = ln(h, W[f'{p}.blocks.0.ln1.g'], W[f'{p}.blocks.0.ln1.b'])
def heads(t):
    return t.reshape(B, L, H, C // H).permute(0, 2, 1, 3)
q, k, v = (heads(lin(W, hn, f'{p}.blocks.0.attn.{n}')) for n in 'qkv')
att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H) + mask, -1) @ v
h = h + lin(W, att.permute(0, 2, 1, 3).reshape(B, L, C), f'{p}.blocks.0.attn.proj')
h = h + lin(W, gelu_tanh(lin(W, ln(h, W[f'{p}.blocks.0.ln2.g'], W[f'{p}.blocks.0.ln2.b']), f'{p}.blocks.0.mlp.fc1')), f'{p}.blocks.0.mlp.fc2')
out_t = ln(h, W[f'{p}.ln_out.g'], W[f'{p}.ln_out.b'])

transformer = {
    'spec': {'width': C, 'heads': H, 'depth': 1, 'mlpRatio': 4, 'tokenDim': D, 'numClasses': K, 'maxInputTokens': T, 'blockSize': P},
    'weights': {k2: {'shape': list(v2.shape), 'data': v2.flatten().tolist()} for k2, v2 in W.items()},
    'x': x.flatten().tolist(), 'xShape': [B, T, D], 'labels': labels,
    'out': out_t.flatten().tolist(), 'outShape': [B, L, C],
}

# ---- (2) flow head: token dim 4, cond dim 16, width 24, depth 2
D2, CZ, WH, DEPTH, N, TF = 4, 16, 24, 2, 5, 256
hp = 'h'
HW = {}
for name, shape in [('t_emb.fc1', (TF, WH)), ('t_emb.fc2', (WH, WH)), ('z_proj', (CZ, WH)), ('in', (D2, WH)),
                    ('final.ada_shift', (WH, WH)), ('final.ada_scale', (WH, WH)), ('final.out', (WH, D2))] + \
                   [(f'blocks.{i}.{n}', (WH, WH)) for i in range(DEPTH) for n in ['ada_shift', 'ada_scale', 'ada_gate', 'fc1', 'fc2']]:
    HW[f'{hp}.{name}.w'] = rnd(*shape, scale=0.2)
    HW[f'{hp}.{name}.b'] = rnd(shape[1], scale=0.1)
y = rnd(N, D2, scale=1.0)
tvals = torch.rand(N).float().double()
z = rnd(N, CZ, scale=1.0)
half = TF // 2
freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
args = (tvals * 1000)[:, None] * freqs[None]
temb = torch.cat([torch.cos(args), torch.sin(args)], 1)
silu = torch.nn.functional.silu
te = lin(HW, silu(lin(HW, temb, f'{hp}.t_emb.fc1')), f'{hp}.t_emb.fc2')
c = silu(te + lin(HW, z, f'{hp}.z_proj'))
hh = lin(HW, y, f'{hp}.in')
for i in range(DEPTH):
    b = f'{hp}.blocks.{i}'
    hn = ln(hh) * (1 + lin(HW, c, f'{b}.ada_scale')) + lin(HW, c, f'{b}.ada_shift')
    hh = hh + lin(HW, c, f'{b}.ada_gate') * lin(HW, silu(lin(HW, hn, f'{b}.fc1')), f'{b}.fc2')
hn = ln(hh) * (1 + lin(HW, c, f'{hp}.final.ada_scale')) + lin(HW, c, f'{hp}.final.ada_shift')
v_out = lin(HW, hn, f'{hp}.final.out')

head = {
    'spec': {'tokenDim': D2, 'condDim': CZ, 'width': WH, 'depth': DEPTH},
    'weights': {k2: {'shape': list(v2.shape), 'data': v2.flatten().tolist()} for k2, v2 in HW.items()},
    'y': y.flatten().tolist(), 't': tvals.tolist(), 'z': z.flatten().tolist(), 'n': N,
    'out': v_out.flatten().tolist(),
}

path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'reference.json')
with open(path, 'w') as f:
    json.dump({'generator': 'scripts/make_reference_fixtures.py', 'torch': torch.__version__,
               'transformer': transformer, 'flowHead': head}, f)
print('wrote', os.path.normpath(path))
