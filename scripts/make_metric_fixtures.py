#!/usr/bin/env python3
"""Reference values for nestar's evaluation metrics, computed independently with NumPy/SciPy.

Writes test/fixtures/metrics.json: fixed random features, and the Fréchet distance (scipy.linalg.sqrtm),
Inception-score analogue, precision/recall (k=3, Kynkäänniemi et al. 2019) and density/coverage (k=5,
Naeem et al. 2020) computed here. Run: /usr/bin/python3 scripts/make_metric_fixtures.py
(Debian: apt-get install python3-numpy python3-scipy).
"""
import json
import os

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist

rng = np.random.default_rng(7)
F = 6
real = rng.normal(size=(120, F)) @ rng.normal(size=(F, F)) * 0.5
fake = rng.normal(size=(90, F)) @ rng.normal(size=(F, F)) * 0.6 + 0.3
real = real.astype(np.float32).astype(np.float64)
fake = fake.astype(np.float32).astype(np.float64)


def fd(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def radii(x, k):
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def prd(real, fake, k):
    rr, rf = radii(real, k), radii(fake, k)
    d = cdist(fake, real)
    precision = float(np.mean((d <= rr[None, :]).any(axis=1)))
    recall = float(np.mean((d.T <= rf[None, :]).any(axis=1)))
    return precision, recall


def dc(real, fake, k):
    rr = radii(real, k)
    d = cdist(fake, real)
    inside = d <= rr[None, :]
    density = float(inside.sum() / (k * len(fake)))
    coverage = float(np.mean(d.min(axis=0) <= rr))
    return density, coverage


logits = rng.normal(size=(50, 4)) * 2
probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
py = probs.mean(0)
is_score = float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(py)[None, :]), axis=1))))

p, r = prd(real, fake, 3)
d, c = dc(real, fake, 5)
out = {
    'generator': 'scripts/make_metric_fixtures.py', 'numpy': np.__version__,
    'dim': F, 'real': real.flatten().tolist(), 'fake': fake.flatten().tolist(),
    'fd': fd(real, fake), 'precision': p, 'recall': r, 'density': d, 'coverage': c,
    'probs': probs.flatten().tolist(), 'classes': 4, 'is': is_score,
}
path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'metrics.json')
with open(path, 'w') as f:
    json.dump(out, f)
print('wrote', os.path.normpath(path), {k: out[k] for k in ['fd', 'precision', 'recall', 'density', 'coverage', 'is']})
