"""The configuration of a training run: options, their defaults, and their checks.

A run's options come from, in increasing priority: the common defaults, the defaults of
its dataset (:data:`DATASET_DEFAULTS`), a TOML file, the options given explicitly
(the command line). :func:`resolve` merges and checks them; :func:`read_run_config`
reads back the ``config.json`` of a run folder. A mistake raises :class:`ConfigError`
with a message meant for the user.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnnet.cli.specs import OPTIMIZERS, build_schedule, parse_model
from fnnet.datasets import DATASETS, parse_dataset
from fnnet.optim import BOUNDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "COMMON_DEFAULTS",
    "COMPUTATION_KEYS",
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
    "threads": int,
    "out": str,
}
# the options a run's config holds (momentum only for sgd, where it is used)
RUN_KEYS = tuple(k for k in OPTIONS if k != "out")
# the options that fix a run's numbers, epoch by epoch: a checkpoint belongs to a config
# that agrees on all of them (epochs may grow where the schedule allows, see fnnet.experiment)
COMPUTATION_KEYS = tuple(k for k in RUN_KEYS if k != "epochs")
COMMON_DEFAULTS: dict[str, Any] = {
    "dataset": "iris",
    "weight_decay": 0.0,
    "schedule": "constant",
    "seed": 0,
    "threads": 1,
}
SGD_MOMENTUM = 0.9
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {name: d.defaults for name, d in DATASETS.items()}
# the optimizer hyperparameters (lr, momentum, weight_decay) have their bounds in one
# table, fnnet.optim.BOUNDS, which the optimizer constructors check too
_RULES: list[tuple[str, Callable[[Any], bool], str]] = [
    *((k, BOUNDS[k].__contains__, str(BOUNDS[k])) for k in ("lr", "momentum", "weight_decay")),
    ("batch_size", lambda v: v >= 1, "at least 1"),
    ("epochs", lambda v: v >= 1, "at least 1"),
    ("seed", lambda v: 0 <= v < 2**63, "a non-negative integer"),
    ("threads", lambda v: 1 <= v <= 256, "from 1 to 256"),
]


def defaults_table() -> str:
    """The defaults, as ``fnnet train --help`` shows them."""
    lines = ["per-dataset defaults (any option overrides them):"]
    for name, d in DATASET_DEFAULTS.items():
        lines.append(
            f"  {name:8} --model {d['model']:10} --optimizer {d['optimizer']} --lr {d['lr']:<6}"
            f" --batch-size {d['batch_size']:<3} --epochs {d['epochs']}"
        )
    lines += [
        f"common defaults: --momentum {SGD_MOMENTUM} (sgd only) --weight-decay 0 "
        "--schedule constant --seed 0 --threads 1",
        "models: linear | mlp[:H1,H2,...][:bn][:dropout=P][:act=NAME] (images are flattened);",
        "  on images: cnn[:C1,C2][:dropout=P] | resnet[:C1,C2,...][:blocks=B] | rnn[:H] | gru[:H]",
        "  | lstm[:H]; rnn, gru and lstm read each image as a sequence of its rows: an 8x8 digit",
        '  is 8 steps of 8 pixels ("sequential MNIST" on the shipped digits)',
        "schedules: constant | cosine | exponential:RATE (per epoch) | step:EPOCHS,GAMMA",
        "run folder (--out, default runs/<dataset>-<model>-seed<seed>): config.json,",
        "  metrics.csv, checkpoint.npz (every epoch), loss.png and accuracy.png",
    ]
    return "\n".join(lines)


def _typed(key: str, value: Any, where: str) -> Any:
    """``value`` as option ``key``'s type (an int is a fine float); else ConfigError."""
    kind = OPTIONS[key]
    ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if not ok or isinstance(value, bool):
        raise ConfigError(f"{where}{key} must be {_TYPE_NAMES[kind]}, got {value!r}")
    return kind(value)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number"}


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
    except ValueError as err:  # e.g. a NUL byte in the path
        raise ConfigError(f"config file {path!r}: {err}") from None
    options: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_")
        if key not in OPTIONS:
            raise ConfigError(f"config file {path}: unknown option {raw_key!r}")
        if key in spelled:
            raise ConfigError(
                f"config file {path}: {spelled[key]!r} and {raw_key!r} are the same option"
            )
        spelled[key] = raw_key
        options[key] = _typed(key, value, f"config file {path}: ")
    return options


def check(config: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate a resolved config (or raise ConfigError); returns a normalised copy.

    Every option of a run (``RUN_KEYS``; ``momentum`` with ``sgd`` only) must be there
    with its type; an IDX folder becomes absolute. ``names`` says where each option came
    from, for the messages (``--lr``, ``config file run.toml: lr``); default: the key.
    """
    names = names or {}
    if not isinstance(config, dict):
        raise ConfigError(f"a run config must be a dict of options, got {type(config).__name__}")
    unknown = sorted(set(config) - set(RUN_KEYS))
    if unknown:
        raise ConfigError(f"unknown options {unknown}: expected {', '.join(RUN_KEYS)}")
    sgd = config.get("optimizer") == "sgd"
    missing = [k for k in RUN_KEYS if k not in config and (k != "momentum" or sgd)]
    if missing:
        raise ConfigError(f"missing options: {', '.join(missing)}")
    config = {k: _typed(k, config[k], "") for k in RUN_KEYS if k in config}
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
    if "momentum" in config and not sgd:
        where = names.get("momentum", "momentum")
        raise ConfigError(f"{where} applies to --optimizer sgd only, not {config['optimizer']}")
    for key, ok, what in _RULES:
        if key in config and not ok(config[key]):
            raise ConfigError(f"{names.get(key, key)} must be {what}, got {config[key]}")
    try:
        build_schedule(config["schedule"], config["lr"], config["epochs"], 1)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return config


def resolve(given: dict[str, Any], config_file: str | None = None) -> tuple[dict[str, Any], Path]:
    """Merge the defaults, ``config_file`` (TOML) and the ``given`` options; check the result.

    Returns the config (the options of a run: :data:`RUN_KEYS`, momentum for sgd only)
    and the run folder: ``given["out"]`` or the file's ``out``, else
    ``runs/<dataset>-<model>-seed<seed>``.
    """
    unknown = sorted(set(given) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown options {unknown}")
    from_file = read_toml(config_file) if config_file else {}
    names = {k: f"config file {config_file}: {k}" for k in from_file}
    names.update({k: "--" + k.replace("_", "-") for k in given})
    dataset = given.get("dataset", from_file.get("dataset", COMMON_DEFAULTS["dataset"]))
    family = dataset.partition(":")[0] if isinstance(dataset, str) else ""
    config = {**COMMON_DEFAULTS, **DATASET_DEFAULTS.get(family, {}), **from_file, **given}
    out = config.pop("out", None)
    for key in RUN_KEYS:
        if key not in config and key != "momentum":  # an unknown dataset has no defaults
            config[key] = DATASET_DEFAULTS["iris"].get(key)
    if config.get("optimizer") == "sgd":
        config.setdefault("momentum", SGD_MOMENTUM)
    config = check(config, names)
    if out is None:
        name = config["dataset"] if family != "idx" else f"idx-{Path(dataset[4:]).name}"
        slug = "".join(c if c.isalnum() or c in "._" else "-" for c in f"{name}-{config['model']}")
        out = f"runs/{slug}-seed{config['seed']}"
    if not out.strip():
        raise ConfigError(f"{names.get('out', 'out')} must name a folder, got {out!r}")
    if "\0" in out:
        raise ConfigError(f"{names.get('out', 'out')} must not contain a NUL byte")
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
    sgd = data.get("optimizer") == "sgd"
    missing = [k for k in RUN_KEYS if k not in data and (k != "momentum" or sgd)]
    if missing:
        raise ConfigError(f"{path}: not an fnnet run config (missing {', '.join(missing)})")
    where = f"{path}: "
    options = {k: _typed(k, data[k], where) for k in RUN_KEYS if k in data}
    try:
        return check(options, {k: f"{path}: {k}" for k in options})
    except ConfigError as err:
        msg = str(err)
        raise ConfigError(msg if str(path) in msg else f"{path}: {msg}") from None
