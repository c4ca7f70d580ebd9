"""The run config (state.json's model/data/tokenizer/train/coord sections) as src/train/config.ts resolves
it, for what the PyTorch twin trains: NestAR, raster AR or next-scale AR on pixel patches of MNIST, read here, or
on the tokens of any dataset nestar reads — pixel patches or KL-autoencoder latents — from a token file of
`nestar encode --config` (its data and tokenizer sections, resolved by nestar, come with it).
Unknown keys are rejected per section; settings the twin does not implement are refused naming the field."""
import copy

from .config import ConfigError

TRAIN_DEFAULTS = {
    "steps": 2000, "batchSize": 64, "lr": 1e-3, "warmupSteps": 100, "minLrRatio": 0.05, "weightDecay": 0.02,
    "beta1": 0.9, "beta2": 0.95, "gradClip": 1.0, "emaDecay": 0.999, "classDropProb": 0.1, "headRepeats": 4,
    "microBatch": 0, "timeSampling": "uniform", "seed": 0, "checkpointEvery": 250, "sampleEvery": 500, "keepCheckpoints": 2,
}
DATA_KEYS = ("source", "imageSize", "channels", "limit", "holdout", "splitSeed", "background")
TOKENIZER_KEYS = ("kind", "patch", "checkpoint", "factor", "latentChannels", "cache")
COORD_DEFAULTS = {"mode": "none", "noiseMax": 0.3, "noiseZeroProb": 0.1, "prefixProb": 0.5, "prefixRampSteps": 0}


def _reject(section, given, known):
    for k in given or {}:
        if k not in known:
            raise ConfigError(f"{section}.{k} is not a known setting; known: {', '.join(known)}")


def resolve_run_config(inp, tokens_file=None):
    """tokens_file: the path of the token file the data comes from (any data.source then), or None (MNIST only)."""
    if not isinstance(inp, dict):
        raise ConfigError("config must be an object with sections model, data, tokenizer, train, coord")
    _reject("config", inp, ("model", "data", "tokenizer", "train", "coord", "recipe"))
    for sec in ("model", "data", "tokenizer", "train", "coord"):
        if sec in inp and not isinstance(inp[sec], dict):
            raise ConfigError(f"{sec} must be an object of settings, got {inp[sec]!r}")
    _reject("train", inp.get("train"), TRAIN_DEFAULTS)
    _reject("data", inp.get("data"), DATA_KEYS)
    _reject("tokenizer", inp.get("tokenizer"), TOKENIZER_KEYS)
    _reject("coord", inp.get("coord"), COORD_DEFAULTS)
    data = {"source": "mnist", "imageSize": 32, "channels": 1, **inp.get("data", {})}
    if data["source"] != "mnist" and not tokens_file:
        raise ConfigError(f"data.source {data['source']!r}: the PyTorch twin reads MNIST itself; for other data pass --tokens FILE, "
                          "written by `nestar encode --config run.json --out FILE`")
    tok = {"kind": "patch", "patch": 4, **inp.get("tokenizer", {})}
    if tok["kind"] == "kl":
        if not tokens_file:
            raise ConfigError("tokenizer.kind 'kl': the twin trains on latents from a token file; write it with "
                              "`nestar encode --config run.json --out FILE` and pass --tokens FILE")
        if not all(isinstance(tok.get(f), int) and tok[f] > 0 for f in ("factor", "latentChannels", "patch")):
            raise ConfigError(f"tokenizer: a KL tokenizer section needs factor, latentChannels and patch (nestar encode resolves them), got {tok!r}")
        side = data["imageSize"] // tok["factor"]
        if side % tok["patch"]:
            raise ConfigError(f"tokenizer.patch must divide the latent side {side}, got {tok['patch']}")
    elif tok["kind"] != "patch":
        raise ConfigError(f"tokenizer.kind must be 'patch' or 'kl', got {tok['kind']!r}")
    elif data["imageSize"] % tok["patch"]:
        raise ConfigError(f"tokenizer.patch must divide data.imageSize ({data['imageSize']}), got {tok['patch']}")
    train = {**TRAIN_DEFAULTS, **inp.get("train", {})}
    for f in ("steps", "batchSize", "checkpointEvery", "sampleEvery", "keepCheckpoints", "headRepeats"):
        if not isinstance(train[f], int) or train[f] < 1:
            raise ConfigError(f"train.{f} must be a positive integer, got {train[f]!r}")
    if train["timeSampling"] not in ("uniform", "logit-normal"):
        raise ConfigError(f"train.timeSampling must be 'uniform' or 'logit-normal', got {train['timeSampling']!r}")
    coord = {**COORD_DEFAULTS, **inp.get("coord", {})}
    if coord["mode"] != "none":
        raise ConfigError(f"coord.mode {coord['mode']!r}: coordination is not implemented in the PyTorch twin; use `nestar train`")
    if tok["kind"] == "kl":
        grid, token_dim = data["imageSize"] // tok["factor"] // tok["patch"], tok["patch"] ** 2 * tok["latentChannels"]
    else:
        grid, token_dim = data["imageSize"] // tok["patch"], tok["patch"] ** 2 * data["channels"]
    model = copy.deepcopy(inp.get("model", {}))
    for f, derived in (("gridSize", grid), ("tokenDim", token_dim)):
        if f in model and model[f] != derived:
            raise ConfigError(f"model.{f}={model[f]} contradicts the data and tokenizer settings (which give {derived}); leave it out")
    model.update(gridSize=grid, tokenDim=token_dim)
    model.setdefault("kind", "nestar")
    out = {"model": model, "data": data, "tokenizer": tok, "train": train, "coord": coord}
    if "recipe" in inp:
        out["recipe"] = inp["recipe"]
    return out
