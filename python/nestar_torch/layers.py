"""Named parameters and the building blocks of src/model/layers.ts, written functionally so every parameter
keeps nestar's exact name ("m1.blocks.0.attn.q.w") and shape: a linear weight is [in, out] as in tfjs."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import LN_EPS


class ParamStore(torch.nn.Module):
    """Parameters by nestar name, in creation order; initialised as src/model/params.ts does (its RNG differs)."""

    def __init__(self, seed=0):
        super().__init__()
        self.plist = torch.nn.ParameterList()
        self.names = []
        self.index = {}
        self._gen = torch.Generator().manual_seed(seed)

    def create(self, name, shape, init, values=None):
        if name in self.index:
            raise ValueError(f"parameter '{name}' defined twice")
        if init == "ones":
            data = torch.ones(shape)
        elif init == "zeros":
            data = torch.zeros(shape)
        elif init == "values":
            data = torch.as_tensor(np.asarray(values, dtype=np.float32)).reshape(shape).clone()
        elif init == "xavier":
            # xavier-uniform over the last two dims, as PyTorch/MAR initialise linear layers
            fan_in = shape[-2] if len(shape) >= 2 else shape[0]
            a = math.sqrt(6 / (fan_in + shape[-1]))
            data = (torch.rand(shape, generator=self._gen) * 2 - 1) * a
        else:
            raise ValueError(f"unknown init {init!r}")
        p = torch.nn.Parameter(data.float())
        self.index[name] = len(self.names)
        self.names.append(name)
        self.plist.append(p)
        return p

    def __getitem__(self, name):
        return self.plist[self.index[name]]

    def named(self):
        return [(n, self.plist[i]) for i, n in enumerate(self.names)]

    def load_arrays(self, arrays, what="weights"):
        """Copies {name: ndarray} into the parameters; every name and shape must match exactly."""
        missing = [n for n in self.names if n not in arrays]
        extra = [n for n in arrays if n not in self.index]
        if missing or extra:
            raise ValueError(f"{what}: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, unexpected {extra[:5]}{'…' if len(extra) > 5 else ''}")
        with torch.no_grad():
            for n, p in self.named():
                a = torch.as_tensor(np.asarray(arrays[n]))
                if tuple(a.shape) != tuple(p.shape):
                    raise ValueError(f"{what}: '{n}' has shape {list(a.shape)}, the model expects {list(p.shape)}")
                p.copy_(a.to(p.dtype))

    def arrays(self):
        return {n: p.detach().float().cpu().numpy() for n, p in self.named()}


def linear(ps, name, d_in, d_out, bias=True, zero=False):
    w = ps.create(f"{name}.w", [d_in, d_out], "zeros" if zero else "xavier")
    if bias:
        ps.create(f"{name}.b", [d_out], "zeros")
    return name


def apply_linear(ps, name, x):
    y = x @ ps[f"{name}.w"]
    b = ps.index.get(f"{name}.b")
    return y if b is None else y + ps.plist[b]


def layer_norm_params(ps, name, dim):
    ps.create(f"{name}.g", [dim], "ones")
    ps.create(f"{name}.b", [dim], "zeros")
    return name


def normalize(x):
    xc = x - x.mean(-1, keepdim=True)
    return xc * torch.rsqrt((xc * xc).mean(-1, keepdim=True) + LN_EPS)


def apply_layer_norm(ps, name, x):
    return normalize(x) * ps[f"{name}.g"] + ps[f"{name}.b"]


def gelu(x):
    return F.gelu(x, approximate="tanh")


def silu(x):
    return x * torch.sigmoid(x)
