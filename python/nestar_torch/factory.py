"""One model of the three by its config's kind, as src/model/factory.ts builds them."""
from .baselines import NextScaleAR, RasterAR
from .config import ConfigError
from .model import NestAR

MODELS = {"nestar": NestAR, "raster": RasterAR, "nextscale": NextScaleAR}


def make_model(config, seed=0):
    kind = config.get("kind", "nestar")
    if kind not in MODELS:
        raise ConfigError(f"model.kind must be one of {', '.join(MODELS)}, got {kind!r}")
    return MODELS[kind](config, seed=seed)
