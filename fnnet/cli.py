"""The ``fnnet`` command: ``fnnet train`` and ``fnnet evaluate``.

``fnnet train`` with no options trains an MLP on Iris in a few seconds. Options come
from, in increasing priority: built-in defaults, the per-dataset defaults
(:mod:`fnnet.config`), a TOML file (``--config``), the command line. A user mistake
ends with one line on stderr, ``fnnet: error: ...``, and a non-zero exit status, never
a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from fnnet import losses, tree
from fnnet.checkpoint import CheckpointError
from fnnet.config import (
    OPTIONS,
    ConfigError,
    check,
    defaults_table,
    read_run_config,
    resolve,
)
from fnnet.experiment import (
    DATASETS_HELP,
    Experiment,
    build,
    epoch_key,
    load_checkpoint,
    plot,
    read_metrics,
    save_checkpoint,
    write_config,
    write_metrics,
)
from fnnet.specs import OPTIMIZERS
from fnnet.training import NonFiniteLossError, evaluate, train_epoch

__all__ = ["CliError", "main"]

RUN_FILES = ("config.json", "metrics.csv", "checkpoint.npz", "loss.png", "accuracy.png")


class CliError(Exception):
    """A user-facing error: printed as ``fnnet: error: <message>``, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see fnnet {self.prog.split()[-1]} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fnnet", description="Train and evaluate fnnet models.")
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate}")
    train = sub.add_parser(
        "train",
        help="train a model and save a run folder",
        description="Train a model; without options an MLP on Iris.",
        epilog=defaults_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--dataset", help=DATASETS_HELP)
    train.add_argument(
        "--model", help="model spec, e.g. mlp:64,64 or mlp:64,64:bn:dropout=0.2 or cnn"
    )
    train.add_argument("--optimizer", help=" | ".join(OPTIMIZERS))
    for name, what in (
        ("lr", "learning rate"),
        ("momentum", "SGD momentum"),
        ("weight-decay", "L2 weight decay on weights (decoupled with adamw)"),
    ):
        train.add_argument(f"--{name}", type=float, help=what)
    train.add_argument(
        "--schedule", help="constant | cosine | exponential:RATE | step:EPOCHS,GAMMA"
    )
    train.add_argument("--batch-size", type=int, help="examples per step")
    train.add_argument("--epochs", type=int, help="number of epochs (with --resume: the new total)")
    train.add_argument("--seed", type=int, help="seed of every random choice (default 0)")
    train.add_argument("--out", help="run folder (default runs/<dataset>-<model>-seed<seed>)")
    train.add_argument("--config", metavar="FILE.toml", help="options from a TOML file")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    ev = sub.add_parser("evaluate", help="report a saved run's metrics")
    ev.add_argument("run_dir", metavar="RUN_DIR")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test")
    return parser


def _resolve(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    given = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    return resolve(given, args.config)


def _build(config: dict[str, Any]) -> Experiment:
    try:
        return build(config)
    except (OSError, ValueError) as err:
        raise CliError(str(err)) from None


def _load(folder: Path, exp: Experiment) -> tuple[Any, Any, Any, int]:
    try:
        return load_checkpoint(folder, exp)
    except CheckpointError as err:
        raise CliError(str(err)) from None


def _progress_bar(desc: str, total: int) -> tuple[Callable[[int, int, float], None] | None, Any]:
    """A tqdm bar with the running loss on an interactive stderr; otherwise nothing."""
    if not sys.stderr.isatty():
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)

    def update(i: int, n: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    return update, bar


def _fmt(x: float) -> str:
    return repr(float(x))


def _train(config: dict[str, Any], folder: Path, resume: bool) -> None:
    exp = _build(config)
    model, loss, epochs = exp.model, losses.cross_entropy, config["epochs"]
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = exp.splits[:3]
    if resume:
        params, state, opt_state, start = _load(folder, exp)
        try:
            rows = read_metrics(folder)
        except (OSError, ValueError) as err:
            raise CliError(f"cannot resume from {folder}: {err}") from None
        if len(rows) < start:
            raise CliError(f"{folder}/metrics.csv has {len(rows)} rows for {start} epochs")
        if start > epochs:
            raise CliError(f"--epochs {epochs} is fewer than the {start} epochs already trained")
        rows = rows[:start]
        write_config(folder, config)
    else:
        if (folder / "config.json").exists():
            read_run_config(folder)  # refuse to clear a folder that holds something else
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "checkpoint.npz").exists():
            print(f"fnnet: replacing the run in {folder}", file=sys.stderr)
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        params, state, opt_state, start, rows = exp.params, exp.state, exp.opt_state, 0, []
        write_config(folder, config)
        write_metrics(folder, rows)
        save_checkpoint(folder, params, state, opt_state, 0)
    size = sum(a.size for a in tree.leaves(params))
    print(
        f"{config['model']} on {config['dataset']}: {len(x_tr)} train / {len(x_va)} val / "
        f"{len(x_te)} test examples, {size} parameters, epochs {start + 1}..{epochs} -> {folder}",
        flush=True,
    )
    for epoch in range(start, epochs):
        began = time.perf_counter()
        on_step, bar = _progress_bar(f"epoch {epoch + 1}/{epochs}", exp.steps_per_epoch)
        try:
            params, state, opt_state, train = train_epoch(
                model, loss, exp.optimizer, params, state, opt_state, x_tr, y_tr,
                epoch_key(config["seed"], epoch), batch_size=config["batch_size"], on_step=on_step,
            )  # fmt: skip
        except NonFiniteLossError as err:
            kept = f"epoch {epoch}" if epoch else "the initial one"
            raise CliError(
                f"non-finite loss ({err.value}) at epoch {epoch + 1}, step {err.step}: "
                f"training stopped; the last good checkpoint ({kept}) is kept in {folder}; "
                "try a smaller --lr",
                code=1,
            ) from None
        except KeyboardInterrupt:
            raise CliError(
                f"interrupted in epoch {epoch + 1}; the checkpoint of epoch {epoch} is kept: "
                f"continue with fnnet train --resume {folder}",
                code=130,
            ) from None
        finally:
            if bar is not None:
                bar.close()
        val = evaluate(model, loss, params, state, x_va, y_va)
        lr = exp.schedule(epoch * exp.steps_per_epoch)
        rows.append([str(epoch + 1), *map(_fmt, (*train, *val, lr))])
        write_metrics(folder, rows)
        save_checkpoint(folder, params, state, opt_state, epoch + 1)
        print(
            f"epoch {epoch + 1:>{len(str(epochs))}}/{epochs}  train loss {train.loss:.4f} "
            f"acc {train.accuracy:.4f}  val loss {val.loss:.4f} acc {val.accuracy:.4f}  "
            f"{time.perf_counter() - began:.2f}s",
            flush=True,
        )
    test = evaluate(model, loss, params, state, x_te, y_te)
    print(f"test loss {test.loss:.4f}  test accuracy {test.accuracy:.4f}", flush=True)
    try:
        plot(folder, rows)
    except ImportError:
        print(
            "fnnet: matplotlib is not installed: skipping loss.png and accuracy.png "
            "(pip install 'fnnet[cli]')",
            file=sys.stderr,
        )
    print(f"run saved in {folder}")


def _cmd_train(args: argparse.Namespace) -> None:
    if args.resume is None:
        config, folder = _resolve(args)
        _train(config, folder, resume=False)
        return
    others = [k for k in (*OPTIONS, "config") if k != "epochs" and getattr(args, k) is not None]
    if others:
        flags = ", ".join("--" + k.replace("_", "-") for k in others)
        raise CliError(
            f"--resume continues a run with the options in its config.json; only --epochs "
            f"(a new total) may be given, not {flags}"
        )
    folder = Path(args.resume)
    config = read_run_config(folder)
    if args.epochs is not None:
        config = check({**config, "epochs": args.epochs})
    _train(config, folder, resume=True)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    folder = Path(args.run_dir)
    config = read_run_config(folder)
    exp = _build(config)
    params, state, _, epoch = _load(folder, exp)
    x, y = getattr(exp.splits, args.split)
    m = evaluate(exp.model, losses.cross_entropy, params, state, x, y)
    print(
        f"{config['model']} on {config['dataset']}, epoch {epoch}, {len(x)} {args.split} examples"
    )
    print(f"{args.split} loss {m.loss:.4f}  {args.split} accuracy {m.accuracy:.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fnnet`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "train":
            _cmd_train(args)
        elif args.command == "evaluate":
            _cmd_evaluate(args)
        else:
            raise CliError("choose a command: fnnet train or fnnet evaluate (see fnnet --help)")
    except (CliError, ConfigError) as err:  # a bad option, config or run folder: status 2
        print(f"fnnet: error: {err}", file=sys.stderr)
        return err.code if isinstance(err, CliError) else 2
    except OSError as err:  # e.g. a run folder that cannot be written
        print(f"fnnet: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fnnet: interrupted", file=sys.stderr)
        return 130
    return 0
