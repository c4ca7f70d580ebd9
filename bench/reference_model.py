#!/usr/bin/env python3
"""PyTorch CPU timing of the engine benchmark's reference model (identical to bench/referenceModel.ts).

Prints one JSON line: {"torch": version, "threads": ..., "train_ms": [...], "forward_ms": [...], "blas": ...}.
Used only as a yardstick by `npm run bench -- engine`; the product never needs Python.
"""
import json
import math
import sys
import time

import torch

B, L, C, DEPTH, H, DIN = 64, 64, 256, 4, 4, 48
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
fwd_runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
# One intra-op thread and let OpenBLAS use the cores: 2 + 2 oversubscribes (ts-engines.md).
torch.set_num_threads(1)
torch.manual_seed(0)


def gelu(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(C, eps=1e-6), torch.nn.LayerNorm(C, eps=1e-6)
        self.q, self.k, self.v, self.proj = (torch.nn.Linear(C, C) for _ in range(4))
        self.fc1, self.fc2 = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)

    def forward(self, h, mask):
        hn = self.ln1(h)
        def heads(t):
            return t.reshape(B, L, H, C // H).permute(0, 2, 1, 3)
        s = heads(self.q(hn)) @ heads(self.k(hn)).transpose(-1, -2) / math.sqrt(C // H) + mask
        att = torch.softmax(s, -1) @ heads(self.v(hn))
        h = h + self.proj(att.permute(0, 2, 1, 3).reshape(B, L, C))
        return h + self.fc2(gelu(self.fc1(self.ln2(h))))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Linear(DIN, C)
        self.pos = torch.nn.Parameter(torch.randn(L, C) * 0.02)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(DEPTH))
        self.ln = torch.nn.LayerNorm(C, eps=1e-6)
        self.out = torch.nn.Linear(C, DIN)
        self.register_buffer('mask', torch.triu(torch.full((L, L), -1e9), 1))

    def forward(self, x):
        h = self.emb(x) + self.pos
        for b in self.blocks:
            h = b(h, self.mask)
        return self.out(self.ln(h))


model = Model()
params = sum(p.numel() for p in model.parameters())
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
x, y = torch.randn(B, L, DIN), torch.randn(B, L, DIN)
train_ms = []
for i in range(steps + 1):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    if i > 0:
        train_ms.append((time.perf_counter() - t0) * 1000)
fwd_ms = []
with torch.no_grad():
    for i in range(fwd_runs + 1):
        t0 = time.perf_counter()
        model(x)
        if i > 0:
            fwd_ms.append((time.perf_counter() - t0) * 1000)
try:
    import threadpoolctl
    blas = [{k: v for k, v in d.items() if k in ('internal_api', 'version', 'architecture', 'num_threads')} for d in threadpoolctl.threadpool_info()]
except Exception:  # threadpoolctl is optional
    blas = None
print(json.dumps({'torch': torch.__version__, 'params': params, 'intra_op_threads': torch.get_num_threads(),
                  'train_ms': train_ms, 'forward_ms': fwd_ms, 'blas': blas}))
