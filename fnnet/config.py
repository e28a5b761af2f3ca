"""The configuration of a training run: options, their defaults, and their checks.

A run's options come from, in increasing priority: the common defaults, the defaults of
its dataset (:data:`DATASET_DEFAULTS`), a TOML file, the options given explicitly
(the command line). :func:`resolve` merges and checks them; :func:`read_run_config`
reads back the ``config.json`` of a run folder. A mistake raises :class:`ConfigError`
with a message meant for the user.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnnet.experiment import parse_dataset
from fnnet.specs import OPTIMIZERS, build_schedule, parse_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "COMMON_DEFAULTS",
    "DATASET_DEFAULTS",
    "OPTIONS",
    "ConfigError",
    "check",
    "defaults_table",
    "read_run_config",
    "read_toml",
    "resolve",
]


class ConfigError(ValueError):
    """An invalid option, config file or run folder (the message is for the user)."""


# option name -> type; the command line spells them with dashes (--batch-size)
OPTIONS: dict[str, type] = {
    "dataset": str,
    "model": str,
    "optimizer": str,
    "lr": float,
    "momentum": float,
    "weight_decay": float,
    "schedule": str,
    "batch_size": int,
    "epochs": int,
    "seed": int,
    "out": str,
}
COMMON_DEFAULTS: dict[str, Any] = {
    "dataset": "iris",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "constant",
    "seed": 0,
}


def _defaults(
    model: str, optimizer: str, lr: float, batch_size: int, epochs: int
) -> dict[str, Any]:
    return {
        "model": model,
        "optimizer": optimizer,
        "lr": lr,
        "batch_size": batch_size,
        "epochs": epochs,
    }


DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "iris": _defaults("mlp:16", "adam", 0.01, 16, 60),
    "digits": _defaults("cnn", "adam", 0.002, 32, 15),
    "moons": _defaults("mlp:32,32", "adam", 0.01, 32, 40),
    "circles": _defaults("mlp:32,32", "adam", 0.01, 32, 40),
    "spirals": _defaults("mlp:64,64", "adam", 0.01, 32, 60),
    "idx": _defaults("cnn", "adam", 0.001, 64, 3),
}


def defaults_table() -> str:
    """The defaults, as ``fnnet train --help`` shows them."""
    lines = ["per-dataset defaults (any option overrides them):"]
    for name, d in DATASET_DEFAULTS.items():
        lines.append(
            f"  {name:8} --model {d['model']:10} --optimizer {d['optimizer']} --lr {d['lr']:<6}"
            f" --batch-size {d['batch_size']:<3} --epochs {d['epochs']}"
        )
    lines += [
        "common defaults: --momentum 0.9 (sgd) --weight-decay 0 --schedule constant --seed 0",
        "models: linear | mlp[:H1,H2,...][:bn][:dropout=P][:act=NAME] | cnn[:C1,C2][:dropout=P]",
        "schedules: constant | cosine | exponential:RATE (per epoch) | step:EPOCHS,GAMMA",
        "run folder (--out, default runs/<dataset>-<model>-seed<seed>): config.json,",
        "  metrics.csv, checkpoint.npz (every epoch), loss.png and accuracy.png",
    ]
    return "\n".join(lines)


def read_toml(path: str) -> dict[str, Any]:
    """The options in the TOML file ``path`` (keys with dashes or underscores), type-checked."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    options: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_")
        if key not in OPTIONS:
            raise ConfigError(f"config file {path}: unknown option {raw_key!r}")
        kind = OPTIONS[key]
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            raise ConfigError(
                f"config file {path}: {raw_key} must be {kind.__name__}, got {value!r}"
            )
        options[key] = kind(value)
    return options


def check(config: dict[str, Any]) -> dict[str, Any]:
    """Validate a resolved config (or raise ConfigError); an IDX folder becomes absolute."""
    try:
        name, arg = parse_dataset(config["dataset"])
        parse_model(config["model"])
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if name == "idx":
        config["dataset"] = f"idx:{Path(arg).expanduser().resolve()}"
    if config["optimizer"] not in OPTIMIZERS:
        raise ConfigError(
            f"unknown optimizer {config['optimizer']!r}: expected {', '.join(OPTIMIZERS)}"
        )
    rules: list[tuple[str, Callable[[Any], bool], str]] = [
        ("lr", lambda v: math.isfinite(v) and v > 0, "a number > 0"),
        ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("weight_decay", lambda v: math.isfinite(v) and v >= 0, "a number >= 0"),
        ("batch_size", lambda v: v >= 1, "at least 1"),
        ("epochs", lambda v: v >= 1, "at least 1"),
        ("seed", lambda v: v >= 0, "a non-negative integer"),
    ]
    for key, ok, what in rules:
        if not ok(config[key]):
            raise ConfigError(f"--{key.replace('_', '-')} must be {what}, got {config[key]}")
    try:
        build_schedule(config["schedule"], config["lr"], config["epochs"], 1)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return config


def resolve(given: dict[str, Any], config_file: str | None = None) -> tuple[dict[str, Any], Path]:
    """Merge the defaults, ``config_file`` (TOML) and the ``given`` options; check the result.

    Returns the config (every option of :data:`OPTIONS` but ``out``) and the run folder:
    ``given["out"]`` or the file's ``out``, else ``runs/<dataset>-<model>-seed<seed>``.
    """
    unknown = sorted(set(given) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown options {unknown}")
    from_file = read_toml(config_file) if config_file else {}
    dataset = given.get("dataset", from_file.get("dataset", COMMON_DEFAULTS["dataset"]))
    family = dataset.partition(":")[0]
    config = {**COMMON_DEFAULTS, **DATASET_DEFAULTS.get(family, {}), **from_file, **given}
    out = config.pop("out", None)
    for key in OPTIONS:
        if key != "out" and key not in config:  # an unknown dataset has no defaults
            config[key] = DATASET_DEFAULTS["iris"].get(key)
    config = check(config)
    if out is None:
        name = config["dataset"] if family != "idx" else f"idx-{Path(dataset[4:]).name}"
        slug = "".join(c if c.isalnum() or c in "._" else "-" for c in f"{name}-{config['model']}")
        out = f"runs/{slug}-seed{config['seed']}"
    return config, Path(out)


def read_run_config(folder: Path) -> dict[str, Any]:
    """The checked config of the run in ``folder`` (its ``config.json``)."""
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{folder} is not a run folder (no config.json)") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not an fnnet run config (not a JSON object)")
    missing = [k for k in OPTIONS if k != "out" and k not in data]
    if missing:
        raise ConfigError(f"{path}: not an fnnet run config (missing {', '.join(missing)})")
    return check({k: data[k] for k in OPTIONS if k != "out"})
