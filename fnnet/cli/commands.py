"""The ``fnnet`` command: ``fnnet train`` and ``fnnet evaluate``.

``fnnet train`` with no options trains an MLP on Iris in a few seconds. Options come
from, in increasing priority: built-in defaults, the per-dataset defaults
(:mod:`fnnet.cli.config`), a TOML file (``--config``), the command line. The training
itself is :func:`fnnet.experiment.run`; this module parses, prints and maps errors. A
user mistake ends with one line on stderr, ``fnnet: error: ...``, and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import fnnet
from fnnet import experiment, losses
from fnnet.cli import sweep_command
from fnnet.cli.config import (
    OPTIONS,
    ConfigError,
    check,
    defaults_table,
    read_run_config,
    resolve,
)
from fnnet.cli.specs import OPTIMIZERS
from fnnet.datasets import dataset_help
from fnnet.experiment.runner import checked_checkpoint
from fnnet.experiment.threads import threads
from fnnet.training import evaluate

__all__ = ["CliError", "main"]


class CliError(Exception):
    """A user-facing error: printed as ``fnnet: error: <message>``, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.split()[1:]  # "fnnet train" -> ["train"]; "fnnet" -> []
        raise CliError(f"{message} (see {' '.join(['fnnet', *command, '--help'])})")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fnnet", description="Train and evaluate fnnet models.")
    parser.add_argument("--version", action="version", version=f"fnnet {fnnet.__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="{train,evaluate,sweep}", parser_class=_Parser
    )
    train = sub.add_parser(
        "train",
        help="train a model and save a run folder",
        description="Train a model; without options an MLP on Iris.",
        epilog=defaults_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--dataset", help=dataset_help())
    train.add_argument(
        "--model",
        help="model spec, e.g. mlp:64,64 or mlp:64,64:bn:dropout=0.2, cnn, resnet:16,32:blocks=2"
        ", gru:64 (rnn, gru, lstm read each 8x8 digit as a sequence of 8 rows: sequential MNIST)",
    )
    train.add_argument("--optimizer", help=" | ".join(OPTIMIZERS))
    for name, what in (
        ("lr", "learning rate"),
        ("momentum", "SGD momentum (sgd only)"),
        ("weight-decay", "L2 weight decay on weights (decoupled with adamw)"),
    ):
        train.add_argument(f"--{name}", type=float, help=what)
    train.add_argument(
        "--schedule", help="constant | cosine | exponential:RATE | step:EPOCHS,GAMMA"
    )
    train.add_argument("--batch-size", type=int, help="examples per step")
    train.add_argument("--epochs", type=int, help="number of epochs (with --resume: the new total)")
    train.add_argument("--seed", type=int, help="seed of every random choice (default 0)")
    train.add_argument(
        "--threads",
        type=int,
        help="BLAS threads (default 1); results are byte-identical at the same count",
    )
    train.add_argument("--out", help="run folder (default runs/<dataset>-<model>-seed<seed>)")
    train.add_argument("--config", metavar="FILE.toml", help="options from a TOML file")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    ev = sub.add_parser("evaluate", help="report a saved run's metrics")
    ev.add_argument("run_dir", metavar="RUN_DIR")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test")
    sweep_command.add_parser(sub)
    return parser


class _Printer:
    """The lines ``fnnet train`` prints, as callbacks of :func:`fnnet.experiment.run`."""

    def __init__(self, config: dict[str, Any], folder: Path) -> None:
        self.config, self.folder = config, folder
        self.epoch = 0  # the last finished epoch
        self.bar: Any = None

    def start(self, info: dict[str, Any]) -> None:
        self.epoch = info["start"]
        c = self.config
        if info["replaced"]:
            print(f"fnnet: replacing the run in {self.folder}", file=sys.stderr)
        if info["drop_last"]:
            print(
                f"fnnet: {c['model']} has BatchNorm and {info['train']} training examples "
                f"leave a last batch of one row: it is skipped every epoch",
                file=sys.stderr,
            )
        todo = (
            f"epochs {info['start'] + 1}..{info['epochs']}"
            if info["start"] < info["epochs"]
            else f"all {info['epochs']} epochs already trained"
        )
        print(
            f"{c['model']} on {c['dataset']}: {info['train']} train / {info['val']} val / "
            f"{info['test']} test examples, {info['params']} parameters, {todo} -> "
            f"{self.folder}",
        )
        # the model's layers, output shapes and parameters (fnnet.summary), then the epochs
        print(fnnet.summary(info["model"], info["input_shape"]), flush=True)

    def step(self, epoch: int, i: int, n: int, loss: float) -> None:
        if i == 1 and sys.stderr.isatty():
            self.close()
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(
                total=n, desc=f"epoch {epoch}/{self.config['epochs']}", leave=False,
                file=sys.stderr, dynamic_ncols=True,
            )  # fmt: skip
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def epoch_done(self, row: dict[str, Any]) -> None:
        self.close()
        self.epoch = row["epoch"]
        total = row["epochs"]
        print(
            f"epoch {row['epoch']:>{len(str(total))}}/{total}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_accuracy']:.4f}  val loss {row['val_loss']:.4f} "
            f"acc {row['val_accuracy']:.4f}  {row['seconds']:.2f}s",
            flush=True,
        )


def _train(config: dict[str, Any], folder: Path, resume: bool) -> None:
    printer = _Printer(config, folder)
    try:
        summary = experiment.run(
            config, folder, printer.epoch_done, resume=resume, on_start=printer.start,
            on_step=printer.step,
        )  # fmt: skip
    except KeyboardInterrupt:
        raise CliError(
            f"interrupted in epoch {printer.epoch + 1}; the checkpoint of epoch {printer.epoch} "
            f"is kept: continue with fnnet train --resume {folder}",
            code=130,
        ) from None
    except (ValueError, OSError) as err:  # a config, data set or folder that cannot be used
        raise CliError(str(err), code=1 if isinstance(err, OSError) else 2) from None
    finally:
        printer.close()
    if summary["status"] == "diverged":
        raise CliError(
            f"{summary['error']} in {folder}; training stopped: try a smaller --lr", code=1
        )
    print(
        f"test loss {summary['test_loss']:.4f}  test accuracy {summary['test_accuracy']:.4f}",
        flush=True,
    )
    if summary["threads"] is None:
        print(
            f"fnnet: no OpenBLAS found to set {config['threads']} BLAS threads; set "
            f"OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS to {config['threads']} "
            "for reproducible runs",
            file=sys.stderr,
        )
    if not summary["plots"]:
        print(
            "fnnet: matplotlib is not installed: skipping loss.png and accuracy.png "
            "(pip install 'fnnet[cli]')",
            file=sys.stderr,
        )
    print(f"run saved in {folder}")


def _cmd_train(args: argparse.Namespace) -> None:
    if args.resume is None:
        given = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
        config, folder = resolve(given, args.config)
        _train(config, folder, resume=False)
        return
    others = [k for k in (*OPTIONS, "config") if k != "epochs" and getattr(args, k) is not None]
    if others:
        flags = ", ".join("--" + k.replace("_", "-") for k in others)
        raise CliError(
            f"--resume continues a run with the options in its config.json; only --epochs "
            f"(a new total) may be given, not {flags}"
        )
    if not args.resume.strip():
        raise CliError("--resume needs a run folder, got ''")
    folder = Path(args.resume)
    config = read_run_config(folder)
    if args.epochs is not None:
        config = check({**config, "epochs": args.epochs}, {"epochs": "--epochs"})
    _train(config, folder, resume=True)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    folder = Path(args.run_dir)
    config = read_run_config(folder)
    try:
        with threads(config["threads"]):
            exp = experiment.build(config)
            params, state, _, epoch, _ = checked_checkpoint(folder, exp, config)
            x, y = getattr(exp.splits, args.split)
            m = evaluate(exp.model, losses.cross_entropy, params, state, x, y)
    except (ValueError, OSError) as err:
        raise CliError(str(err)) from None
    print(
        f"{config['model']} on {config['dataset']}, epoch {epoch}, {len(x)} {args.split} examples"
    )
    print(f"{args.split} loss {m.loss:.4f}  {args.split} accuracy {m.accuracy:.4f}")


def _cmd_sweep(args: argparse.Namespace) -> int:
    try:
        return sweep_command.command(args)
    except KeyboardInterrupt:
        raise CliError(
            "interrupted; finished runs are kept: run the same command again to continue",
            code=130,
        ) from None
    except ValueError as err:  # a bad spec or sweep folder
        raise CliError(str(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fnnet`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            where = " ".join(["fnnet", *([args.command] if args.command else []), "--help"])
            raise CliError(f"unrecognized arguments: {' '.join(extra)} (see {where})")
        if args.command == "train":
            _cmd_train(args)
        elif args.command == "evaluate":
            _cmd_evaluate(args)
        elif args.command == "sweep":
            return _cmd_sweep(args)
        else:
            raise CliError(
                "choose a command: fnnet train, fnnet evaluate or fnnet sweep (see fnnet --help)"
            )
    except SystemExit as exit:  # --help and --version print and exit 0
        return int(exit.code or 0) if not isinstance(exit.code, str) else 2
    except (CliError, ConfigError) as err:  # a bad option, config or run folder: status 2
        print(f"fnnet: error: {err}", file=sys.stderr)
        return err.code if isinstance(err, CliError) else 2
    except OSError as err:  # e.g. a run folder that cannot be written
        print(f"fnnet: error: {err}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            "fnnet: error: out of memory (try a smaller --model or --batch-size)", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("fnnet: interrupted", file=sys.stderr)
        return 130
    return 0
