"""NestAR's sampler (src/model/nestar.ts `sample`, src/model/generator.ts `sampleHead`, src/flow/flowMatching.ts
`integrateFlow`) in PyTorch: modules in turn, patches one call each, the flow head's ODE per patch with
classifier-free guidance (constant or linear schedule, optional interval), Euler or Heun on the shifted grid.
The backbone recomputes its whole prefix each call (nestar extends a KV cache; the outputs are the same).
`start_noise` replays nestar's starting points, one [rows, D] array per head integration, in order."""
import torch



def time_grid(steps, shift=1.0):
    return [1 - (shift * (1 - i / steps)) / (1 + (shift - 1) * (1 - i / steps)) for i in range(steps + 1)]


@torch.no_grad()
def sample(model, classes, cfg=1.0, ode_steps=32, solver="euler", cfg_schedule="constant", cfg_interval=None,
           time_shift=1.0, temperature=1.0, start_noise=None, generator=None):
    c = model.config
    K, D, n = c["numClasses"], c["tokenDim"], model.num_tokens
    cls = [K if x == -1 else int(x) for x in classes]
    B = len(cls)
    use_cfg = cfg != 1 and any(x != K for x in cls)
    labels = cls + [K] * B if use_cfg else cls
    dtype = model.ps.plist[0].dtype
    onehot = model.one_hot(labels).to(dtype)
    canvas = torch.zeros(B, n, D, dtype=dtype)
    order = torch.as_tensor(model.seq_to_morton)
    lo, hi = cfg_interval or (0.0, 1.0)
    noises = list(start_noise) if start_noise is not None else None
    grid = time_grid(ode_steps, time_shift)
    calls = 0
    for i, mod in enumerate(model.modules_):
        head, made_n = model.heads[i], (1 if mod["m"] == 1 else mod["patch"])
        for s in range(mod["steps"]):
            # The first token made this call is also the prefix length: the tokens made so far, in sequence order.
            start = s if mod["m"] == 1 else (s + 1) * mod["patch"]
            prefix = canvas[:, order[:start]] if start > 0 else None
            if prefix is not None and use_cfg:
                prefix = torch.cat([prefix, prefix], 0)
            h = model.backbones[i].forward(prefix, onehot)
            z = h[:, -made_n:].reshape(-1, mod["width"])
            w = 1 + (cfg - 1) * (start / n) if cfg_schedule == "linear" else cfg
            N = B * made_n
            zc = z[:N]
            layout = [(0, made_n)]

            def v(y, t):
                if not use_cfg or t < lo or t > hi:
                    return head.forward(y, t, zc, layout)
                vc, vu = head.forward(torch.cat([y, y], 0), t, z, layout).split(N, 0)
                return vu + w * (vc - vu)

            if noises is not None:
                y = torch.as_tensor(noises.pop(0), dtype=dtype).reshape(N, D)
            else:
                y = torch.randn((N, D), generator=generator, dtype=torch.float64).to(dtype) * temperature
            for k in range(ode_steps):
                t0, dt = grid[k], grid[k + 1] - grid[k]
                v0 = v(y, t0)
                if solver == "euler":
                    y = y + v0 * dt
                elif solver == "heun":
                    y = y + (v0 + v(y + v0 * dt, t0 + dt)) * (dt / 2)
                else:
                    raise ValueError(f"solver {solver!r}: the twin's sampler has euler and heun")
            canvas[:, order[start:start + made_n]] = y.reshape(B, made_n, D)
            calls += 1
    return canvas, calls
