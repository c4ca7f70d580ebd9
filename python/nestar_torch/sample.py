"""The samplers of src/model in PyTorch — NestAR (nestar.ts `sample`), raster AR (rasterAR.ts) and next-scale AR
(nextScaleAR.ts), each with generator.ts `sampleHead` and flowMatching.ts `integrateFlow`: the flow head's ODE per
sequential call with classifier-free guidance (constant or linear schedule, optional interval), Euler or Heun on
the shifted grid. The backbone recomputes its whole prefix each call (nestar extends a KV cache; the outputs are
the same). `start_noise` replays nestar's starting points, one [rows, D] array per head integration, in order."""
import torch

from .baselines import NextScaleAR, RasterAR, upsample


def time_grid(steps, shift=1.0):
    return [1 - (shift * (1 - i / steps)) / (1 + (shift - 1) * (1 - i / steps)) for i in range(steps + 1)]


class _Run:
    """What every sampler shares: labels (+ the null class for guidance), the ODE, the starting noises."""

    def __init__(self, model, classes, cfg, ode_steps, solver, cfg_schedule, cfg_interval, time_shift, temperature, start_noise, generator):
        c = model.config
        self.K, self.D = c["numClasses"], c["tokenDim"]
        cls = [self.K if x == -1 else int(x) for x in classes]
        self.B = len(cls)
        self.use_cfg = cfg != 1 and any(x != self.K for x in cls)
        self.dtype = model.ps.plist[0].dtype
        self.onehot = model.one_hot(cls + [self.K] * self.B if self.use_cfg else cls).to(self.dtype)
        self.cfg, self.schedule, self.solver, self.temperature, self.generator = cfg, cfg_schedule, solver, temperature, generator
        self.lo, self.hi = cfg_interval or (0.0, 1.0)
        self.noises = list(start_noise) if start_noise is not None else None
        self.grid = time_grid(ode_steps, time_shift)

    def doubled(self, x):
        return torch.cat([x, x], 0) if x is not None and self.use_cfg else x

    def weight(self, progress):
        return 1 + (self.cfg - 1) * progress if self.schedule == "linear" else self.cfg

    def solve(self, head, z, layout, w):
        """Integrates the head's ODE for the conditional samples' rows of z (the unconditional ones follow them)."""
        rows = sum(n for _, n in layout)
        N, D = self.B * rows, self.D
        zc = z[:N]

        def v(y, t):
            if not self.use_cfg or t < self.lo or t > self.hi:
                return head.forward(y, t, zc, layout)
            vc, vu = head.forward(torch.cat([y, y], 0), t, z, layout).split(N, 0)
            return vu + w * (vc - vu)

        if self.noises is not None:
            y = torch.as_tensor(self.noises.pop(0), dtype=self.dtype).reshape(N, D)
        else:
            y = torch.randn((N, D), generator=self.generator, dtype=torch.float64).to(self.dtype) * self.temperature
        for k in range(len(self.grid) - 1):
            t0, dt = self.grid[k], self.grid[k + 1] - self.grid[k]
            v0 = v(y, t0)
            if self.solver == "euler":
                y = y + v0 * dt
            elif self.solver == "heun":
                y = y + (v0 + v(y + v0 * dt, t0 + dt)) * (dt / 2)
            else:
                raise ValueError(f"solver {self.solver!r}: the twin's sampler has euler and heun")
        return y.reshape(self.B, rows, D)


def _nestar(model, run):
    n = model.num_tokens
    canvas = torch.zeros(run.B, n, run.D, dtype=run.dtype)
    order = torch.as_tensor(model.seq_to_morton)
    calls = 0
    for i, mod in enumerate(model.modules_):
        made = 1 if mod["m"] == 1 else mod["patch"]
        for s in range(mod["steps"]):
            # The first token made this call is also the prefix length: the tokens made so far, in sequence order.
            start = s if mod["m"] == 1 else (s + 1) * mod["patch"]
            h = model.backbones[i].forward(run.doubled(canvas[:, order[:start]]) if start > 0 else None, run.onehot)
            y = run.solve(model.heads[i], h[:, -made:].reshape(-1, mod["width"]), [(0, made)], run.weight(start / n))
            canvas[:, order[start:start + made]] = y
            calls += 1
    return canvas, calls


def _raster(model, run):
    n = model.num_tokens
    canvas = torch.zeros(run.B, n, run.D, dtype=run.dtype)
    r2m = torch.as_tensor(model.raster_to_morton)
    for r in range(n):
        h = model.backbone.forward(run.doubled(canvas[:, r2m[:r]]) if r > 0 else None, run.onehot)
        canvas[:, r2m[r:r + 1]] = run.solve(model.head, h[:, -1:].reshape(-1, model.config["width"]), [(0, 1)], run.weight(r / n))
    return canvas, n


def _nextscale(model, run):
    n, maps = model.num_tokens, []
    for j, side in enumerate(model.sides):
        x = torch.cat([upsample(m) for m in maps], 1) if maps else None
        h = model.backbone.forward(run.doubled(x), run.onehot)
        cells = side * side
        w = run.weight(0 if j == 0 else model.sides[j - 1] ** 2 / n)
        maps.append(run.solve(model.head, h[:, -cells:].reshape(-1, model.config["width"]), [model.layout[j]], w))
    return maps[-1], len(model.sides)


@torch.no_grad()
def sample(model, classes, cfg=1.0, ode_steps=32, solver="euler", cfg_schedule="constant", cfg_interval=None,
           time_shift=1.0, temperature=1.0, start_noise=None, generator=None):
    """Tokens [B, n, D] in Morton order and the number of sequential backbone calls, for any of the three models."""
    run = _Run(model, classes, cfg, ode_steps, solver, cfg_schedule, cfg_interval, time_shift, temperature, start_noise, generator)
    if isinstance(model, RasterAR):
        return _raster(model, run)
    if isinstance(model, NextScaleAR):
        return _nextscale(model, run)
    return _nestar(model, run)
