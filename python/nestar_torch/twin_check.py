"""Cross-implementation check (used by test/torchTwin.test.ts): given a folder written by nestar with
meta.json (model config, labels, head repeats), weights.safetensors, inputs.safetensors (tokens and each
module's replayed t and eps draws), computes the loss and every parameter's gradient here in float64 and
writes loss.json and grads.safetensors next to them; with meta["sample"], samples from the given starting
noises and writes tokens.safetensors. The TypeScript test compares.

    python3 -m nestar_torch.twin_check DIR
"""
import json
import os
import sys

import torch

from .factory import make_model
from .sample import sample
from .safetensors_io import read_safetensors, write_safetensors


def load(folder, meta):
    """The model of meta.json in float64 with weights.safetensors loaded, and inputs.safetensors."""
    weights, _ = read_safetensors(os.path.join(folder, "weights.safetensors"))
    inputs, _ = read_safetensors(os.path.join(folder, "inputs.safetensors"))
    model = make_model(meta["model"]).double()
    model.ps.load_arrays(weights)
    return model, inputs


def sample_check(folder, meta, model, inputs):
    """meta["sample"] holds the options; inputs.safetensors the starting noises noise0..; writes tokens.safetensors."""
    o = meta["sample"]
    noises = [inputs[f"noise{i}"] for i in range(sum(k.startswith("noise") for k in inputs))]
    canvas, calls = sample(model, o["classes"], cfg=o["cfg"], ode_steps=o["odeSteps"], solver=o["solver"],
                           cfg_schedule=o.get("cfgSchedule", "constant"), cfg_interval=o.get("cfgInterval"), start_noise=noises)
    write_safetensors(os.path.join(folder, "tokens.safetensors"), {"tokens": canvas.numpy()})
    json.dump({"calls": calls}, open(os.path.join(folder, "sample.json"), "w"))


def loss_check(folder, meta, model, inputs):
    """inputs.safetensors holds tokens and each module's t and eps; writes loss.json and grads.safetensors."""
    names = [(n, list(p.shape)) for n, p in model.ps.named()]
    parts = sum(k.startswith("t") and k[1:].isdigit() for k in inputs)
    draws = [{"t": torch.as_tensor(inputs[f"t{i}"]).double(), "eps": torch.as_tensor(inputs[f"eps{i}"]).double()} for i in range(parts)]
    tokens = torch.as_tensor(inputs["tokens"]).double()
    total, per = model.loss(tokens, meta["labels"], draws=draws, head_repeats=meta["headRepeats"])
    total.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).numpy() for n, p in model.ps.named()}
    write_safetensors(os.path.join(folder, "grads.safetensors"), grads)
    json.dump({"loss": total.item(), "perModule": [l.item() for l in per], "params": names,
               "torch": torch.__version__}, open(os.path.join(folder, "loss.json"), "w"))


def main(folder):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    model, inputs = load(folder, meta)
    (sample_check if "sample" in meta else loss_check)(folder, meta, model, inputs)


if __name__ == "__main__":
    main(sys.argv[1])
