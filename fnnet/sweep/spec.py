"""A sweep spec: what it may hold, and the list of run configs it stands for.

A spec is the dict of a TOML file with up to four tables::

    [sweep]                       # name, method = "grid" | "random", seeds,
    name = "iris-lr"              # num_samples and seed (method "random" only)
    method = "grid"
    seeds = [0, 1, 2]
    [base]                        # options shared by every run (the --config keys)
    dataset = "iris"
    [grid]                        # method "grid": a list of values per swept option
    lr = [0.01, 0.1]
    [random]                      # method "random": a distribution per swept option
    lr = { loguniform = [1e-4, 1e-1] }

:func:`expand` turns it into run configs in a fixed order: grid points in the order the
options and their values are written (the last option varies fastest), each point once
per seed (the seed varies fastest of all). A random point ``i`` is drawn from
``fold_in(key(seed), i)``, option ``j`` of it from ``fold_in(that, j)``, so adding
samples keeps the earlier ones.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import sys
from pathlib import Path
from typing import Any

from fnnet import random
from fnnet.cli.config import OPTIONS, ConfigError, resolve
from fnnet.experiment.build import canonical_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DISTRIBUTIONS",
    "SweepError",
    "check_extension",
    "expand",
    "fingerprint",
    "read_spec",
    "run_id",
    "run_name",
    "swept_keys",
]

DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
_SWEEP_KEYS = {"name", "method", "seeds", "num_samples", "seed"}
_TABLES = {"sweep", "base", "grid", "random"}
# options a sweep may set: those of a run; the sweep places each run's folder itself
_RUN_OPTIONS = {k for k in OPTIONS if k != "out"}


class SweepError(ValueError):
    """An invalid sweep spec or sweep folder (the message is for the user)."""


def read_spec(path: str | Path) -> dict[str, Any]:
    """The checked spec in the TOML file ``path``, with ``[sweep]`` defaults filled in."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError(f"sweep spec {path} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SweepError(f"cannot read sweep spec {path}: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"sweep spec {path} is not valid TOML: {err}") from None
    return check(data, where=f"{path}: ")


def check(spec: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Validate ``spec`` (raise :class:`SweepError`); returns a normalised copy."""
    if not isinstance(spec, dict):
        raise SweepError(f"{where}a sweep spec must be a table, got {type(spec).__name__}")
    unknown = sorted(set(spec) - _TABLES)
    if unknown:
        expected = "[sweep], [base], [grid], [random]"
        raise SweepError(f"{where}unknown tables {unknown}: expected {expected}")
    for table in _TABLES & set(spec):
        if not isinstance(spec[table], dict):
            raise SweepError(f"{where}[{table}] must be a table")
    sweep = dict(spec.get("sweep", {}))
    if set(sweep) - _SWEEP_KEYS:
        bad = sorted(set(sweep) - _SWEEP_KEYS)
        raise SweepError(f"{where}[sweep] has unknown keys {bad}: expected {sorted(_SWEEP_KEYS)}")
    method = sweep.setdefault("method", "grid")
    if method not in ("grid", "random"):
        raise SweepError(f"{where}[sweep] method must be 'grid' or 'random', got {method!r}")
    name = sweep.setdefault("name", "sweep")
    if not isinstance(name, str) or not name.strip() or "/" in name or "\0" in name:
        raise SweepError(f"{where}[sweep] name must be a folder name, got {name!r}")
    base = dict(spec.get("base", {}))
    seeds = sweep.setdefault("seeds", [base.pop("seed", 0)])
    if "seed" in base:
        raise SweepError(f"{where}give the seeds in [sweep] seeds, not in [base]")
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise SweepError(f"{where}[sweep] seeds must be a non-empty list of integers >= 0")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"{where}[sweep] seeds repeat a value: {seeds}")
    other = "random" if method == "grid" else "grid"
    if spec.get(other):
        raise SweepError(f"{where}[{other}] is given but [sweep] method is {method!r}")
    swept = dict(spec.get(method, {}))
    if not swept:
        raise SweepError(f"{where}[{method}] must name at least one option to sweep")
    for key in list(base) + list(swept):
        if key.replace("-", "_") not in _RUN_OPTIONS:
            expected = ", ".join(sorted(_RUN_OPTIONS))
            raise SweepError(f"{where}unknown option {key!r}: expected {expected}")
    if "seed" in swept:
        raise SweepError(f"{where}sweep seeds with [sweep] seeds, not in [{method}]")
    both = sorted(set(base) & set(swept))
    if both:
        raise SweepError(f"{where}{both} are both in [base] and [{method}]")
    if method == "grid":
        for key, values in swept.items():
            if not isinstance(values, list) or not values:
                raise SweepError(f"{where}[grid] {key} must be a non-empty list of values")
            if len({canonical_json(v) for v in values}) != len(values):
                raise SweepError(f"{where}[grid] {key} repeats a value: {values}")
    else:
        for key, dist in swept.items():
            _check_distribution(key, dist, where)
        n = sweep.setdefault("num_samples", 10)
        if not _is_int(n) or n < 1:
            raise SweepError(f"{where}[sweep] num_samples must be an integer >= 1, got {n!r}")
        if not _is_int(sweep.setdefault("seed", 0)) or sweep["seed"] < 0:
            raise SweepError(f"{where}[sweep] seed must be an integer >= 0")
    if method == "grid" and ("num_samples" in sweep or "seed" in sweep):
        raise SweepError(f"{where}[sweep] num_samples and seed apply to method 'random' only")
    checked = {"sweep": sweep, "base": base, method: swept}
    _configs(checked, where)  # every run config must resolve
    return checked


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_distribution(key: str, dist: Any, where: str) -> None:
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise SweepError(
            f"{where}[random] {key} must be one of {{ uniform = [a, b] }}, "
            f"{{ loguniform = [a, b] }}, {{ randint = [a, b] }}, {{ choice = [...] }}; got {dist!r}"
        )
    ((kind, args),) = dist.items()
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise SweepError(f"{where}[random] {key}: choice needs a non-empty list")
        return
    ok = (
        isinstance(args, list)
        and len(args) == 2
        and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
            for a in args
        )
    )
    if not ok or not args[0] < args[1]:
        raise SweepError(f"{where}[random] {key}: {kind} needs [low, high] with low < high")
    if kind == "loguniform" and args[0] <= 0:
        raise SweepError(f"{where}[random] {key}: loguniform needs low > 0")
    if kind == "randint" and not (_is_int(args[0]) and _is_int(args[1])):
        raise SweepError(f"{where}[random] {key}: randint needs integer bounds")


def _draw(k: random.Key, kind: str, args: Any) -> Any:
    """One value of a distribution, from the key ``k`` alone."""
    u = float(random.uniform(k, (), dtype="float64"))
    if kind == "uniform":
        return args[0] + (args[1] - args[0]) * u
    if kind == "loguniform":
        return math.exp(math.log(args[0]) + (math.log(args[1]) - math.log(args[0])) * u)
    if kind == "randint":  # high inclusive
        return int(args[0] + min(math.floor(u * (args[1] - args[0] + 1)), args[1] - args[0]))
    return args[min(math.floor(u * len(args)), len(args) - 1)]


def points(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The swept options of every point, without seeds, in the spec's fixed order."""
    sweep = spec["sweep"]
    if sweep["method"] == "grid":
        keys = list(spec["grid"])
        return [dict(zip(keys, combo)) for combo in itertools.product(*spec["grid"].values())]
    root = random.key(sweep["seed"])
    out = []
    for i in range(sweep["num_samples"]):
        k = random.fold_in(root, i)
        out.append(
            {
                key: _draw(random.fold_in(k, j), *next(iter(dist.items())))
                for j, (key, dist) in enumerate(spec["random"].items())
            }
        )
    return out


def swept_keys(spec: dict[str, Any]) -> list[str]:
    """The options the sweep varies (option names with underscores), seed excluded."""
    method = spec.get("sweep", {}).get("method", "grid")
    return [k.replace("-", "_") for k in spec.get(method, {})]


def expand(spec: dict[str, Any], where: str = "") -> list[dict[str, Any]]:
    """Every run config of ``spec``, resolved like ``fnnet train`` does, in a fixed order.

    Pure: the same spec gives the same list. Each config is complete (dataset defaults
    filled in, ``threads`` included) and is what the run's ``config.json`` will hold.
    """
    return _configs(check(spec, where), where)


def _configs(spec: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The run configs of a checked spec."""
    configs = []
    for point in points(spec):
        for seed in spec["sweep"]["seeds"]:
            given = {k.replace("-", "_"): v for k, v in {**spec["base"], **point}.items()}
            given["seed"] = seed
            try:
                config, _ = resolve(given)
            except ConfigError as err:
                shown = ", ".join(f"{k}={v}" for k, v in point.items())
                raise SweepError(f"{where}the run {shown}, seed={seed}: {err}") from None
            configs.append(config)
    return configs


def fingerprint(spec: dict[str, Any]) -> str:
    """The sha256 of the canonical JSON of a checked spec."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def run_id(config: dict[str, Any]) -> str:
    """A short hash of the canonical resolved config (seed included): the run's folder name."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:12]


def run_name(config: dict[str, Any], keys: list[str]) -> str:
    """A readable name of a run: its swept options and seed (``lr=0.01,model=mlp:16,seed=0``)."""
    return ",".join(f"{k}={config.get(k)}" for k in [*keys, "seed"])


def check_extension(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise :class:`SweepError` unless ``new`` equals ``old`` or only adds grid points.

    Adding values to a ``[grid]`` option or seeds keeps every run of ``old``; anything
    else (another base option, another method, fewer values) would change or orphan runs.
    """
    if canonical_json(old) == canonical_json(new):
        return
    changed = []
    for table in ("base",):
        if canonical_json(old.get(table)) != canonical_json(new.get(table)):
            changed.append(f"[{table}]")
    o, n = old["sweep"], new["sweep"]
    for key in ("name", "method"):
        if o.get(key) != n.get(key):
            changed.append(f"[sweep] {key}")
    if not set(o["seeds"]) <= set(n["seeds"]):
        changed.append("[sweep] seeds (some removed)")
    if o.get("method") == n.get("method") == "grid":
        if list(old["grid"]) != list(new["grid"]):
            changed.append("[grid] options")
        else:
            for key, values in old["grid"].items():
                kept = {canonical_json(v) for v in new["grid"][key]}
                if not {canonical_json(v) for v in values} <= kept:
                    changed.append(f"[grid] {key} (values removed)")
    elif canonical_json(old.get("random")) != canonical_json(new.get("random")) or o != n:
        changed.append("[random] or its [sweep] settings")
    if changed:
        raise SweepError(
            "the sweep spec differs from the one this folder was made with in "
            f"{', '.join(changed)}; only grid values and seeds may be added: use another --out"
        )
