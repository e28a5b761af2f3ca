import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fnnet.experiment.runner
import fnnet.training
from fnnet.cli import main
from fnnet.cli.specs import count_params, parse_model
from fnnet.datasets import write_idx

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "3"]


def _train(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["train", *FAST, "--out", str(out), *extra])
    assert code == 0
    return out


def _one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("fnnet: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_train_writes_a_run_folder(tmp_path, capsys):
    out = _train(tmp_path, "run")
    text = capsys.readouterr().out
    assert text.count("\nepoch ") == 3
    assert "epoch 3/3  train loss" in text and "val loss" in text
    assert "test accuracy" in text and f"run saved in {out}" in text
    # the header, then the model summary (fnnet.summary), then the epochs
    lines = text.splitlines()
    assert lines[0].startswith("mlp:16 on iris: 90 train / 30 val / 30 test examples, 131 ")
    assert lines[1].split() == ["path", "layer", "output", "shape", "params", "count"]
    assert lines[2].split() == [
        "0",
        "Linear",
        "(-1,",
        "16)",
        "W",
        "(16,",
        "4),",
        "b",
        "(16,)",
        "80",
    ]
    assert lines[5] == "total: 131 parameters, 524 bytes" and lines[6].startswith("epoch 1/3")
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "iris" and config["model"] == "mlp:16" and config["epochs"] == 3
    assert config["seed"] == 0 and config["optimizer"] == "adam" and config["lr"] == 0.01
    assert config["threads"] == 1 and "momentum" not in config  # adam has no momentum
    assert set(config["versions"]) == {"fnnet", "numpy", "python"}
    assert config["versions"]["numpy"] == np.__version__
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr"
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    with np.load(out / "checkpoint.npz") as npz:
        assert int(npz["epoch"]) == 3
        assert npz["params/0/W"].shape == (16, 4)
        assert int(npz["opt_state/count"]) == 3 * 6  # ceil(90 / 16) steps per epoch
    if pytest.importorskip is not None and _has_matplotlib():
        assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / "accuracy.png").exists()


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_default_run_trains_iris_well(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nepoch ") == 60
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    assert (tmp_path / "runs" / "iris-mlp-16-seed0" / "checkpoint.npz").exists()


def test_same_seed_same_bytes(tmp_path):
    a = _train(tmp_path, "a", "--model", "mlp:8,8", "--schedule", "cosine")
    b = _train(tmp_path, "b", "--model", "mlp:8,8", "--schedule", "cosine")
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = _train(tmp_path, "c", "--model", "mlp:8,8", "--schedule", "cosine", "--seed", "1")
    assert (a / "metrics.csv").read_bytes() != (c / "metrics.csv").read_bytes()


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, monkeypatch, capsys):
    args = ["--epochs", "4", "--model", "mlp:8:bn:dropout=0.2", "--optimizer", "sgd"]
    args += ["--schedule", "step:1,0.5"]
    full = tmp_path / "full"
    assert main(["train", *args, "--out", str(full)]) == 0
    real = fnnet.training.train_epoch
    calls = []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(fnnet.experiment.runner, "train_epoch", interrupted)
    part = tmp_path / "part"
    capsys.readouterr()
    code = main(["train", *args, "--out", str(part)])
    assert code == 130
    _one_line_error(capsys, code, "interrupted in epoch 3", f"--resume {part}")
    assert len((part / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs
    monkeypatch.setattr(fnnet.experiment.runner, "train_epoch", real)
    assert main(["train", "--resume", str(part)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/4" not in out and "epoch 3/4" in out
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (full / name).read_bytes() == (part / name).read_bytes(), name


def test_resume_with_more_epochs_continues(tmp_path, capsys):
    full = _train(tmp_path, "full", "--epochs", "4")
    short = _train(tmp_path, "short", "--epochs", "2")
    assert main(["train", "--resume", str(short), "--epochs", "4"]) == 0
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (full / name).read_bytes() == (short / name).read_bytes(), name
    # a finished run resumed again has nothing left to train
    capsys.readouterr()
    assert main(["train", "--resume", str(short)]) == 0
    assert "\nepoch " not in capsys.readouterr().out


def test_evaluate_reports_the_test_metrics(tmp_path, capsys):
    out = _train(tmp_path, "run")
    trained = capsys.readouterr().out.split("test loss")[1].splitlines()[0]
    assert main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 3, 30 test examples" in text
    assert "test loss" + trained in text
    assert main(["evaluate", str(out), "--split", "val"]) == 0
    assert "val accuracy" in capsys.readouterr().out


def test_config_file_and_command_line_priority(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('dataset = "moons"\nepochs = 5\nlr = 0.05\nbatch-size = 64\nmodel = "mlp:4"\n')
    out = _train(tmp_path, "run", "--config", str(cfg), "--epochs", "2")
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "moons" and config["epochs"] == 2 and config["lr"] == 0.05
    assert config["batch_size"] == 64 and config["model"] == "mlp:4"
    assert config["optimizer"] == "adam"  # from the moons defaults


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--dataset", "cifar"], ["unknown dataset 'cifar'"]),
        (["--model", "transformer"], ["unknown model 'transformer'", "resnet", "gru[:H]"]),
        (["--model", "resnet:blocks=0"], ["'resnet:blocks=0'", "blocks must be a positive"]),
        (["--model", "resnet:blocks=1:blocks=2"], ["option 'blocks' given twice"]),
        (["--model", "resnet:8,16:bn"], ["unknown option 'bn' for resnet"]),
        (["--model", "gru:64,64"], ["'gru:64,64'", "gru takes one hidden size H"]),
        (["--model", "lstm:6x"], ["'lstm:6x'", "sizes must be positive integers"]),
        (["--model", "rnn:8:dropout=0.1"], ["unknown option 'dropout=0.1' for rnn"]),
        (["--model", "gru"], ["model gru reads images (H, W, C) as sequences of rows", "(4,)"]),
        (["--model", "resnet"], ["model resnet needs images (H, W, C)", "(4,)"]),
        (["--model", "mlp:64,x"], ["sizes must be positive integers"]),
        (["--model", "mlp:64:foo"], ["unknown option 'foo'"]),
        (["--optimizer", "rmsprop"], ["unknown optimizer 'rmsprop'"]),
        (["--schedule", "linear"], ["unknown schedule 'linear'"]),
        (["--lr", "-1"], ["--lr must be > 0, finite"]),
        (["--momentum", "0.5"], ["--momentum applies to --optimizer sgd only, not adam"]),
        (["--lr", "abc"], ["invalid float value: 'abc'"]),
        (["--epochs", "0"], ["--epochs must be at least 1"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
        (["--config", "nowhere.toml"], ["config file nowhere.toml not found"]),
        (["--dataset", "idx:nowhere"], ["nowhere: no such folder"]),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, needles):
    code = main(["train", "--out", str(tmp_path / "x"), *args])
    _one_line_error(capsys, code, *needles)
    assert not (tmp_path / "x" / "checkpoint.npz").exists()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("epochs = [", "is not valid TOML"),
        ("learning_rate = 0.1", "unknown option 'learning_rate'"),
        ('epochs = "ten"', "epochs must be an integer, got 'ten'"),
        ("lr = true", "lr must be a number"),
    ],
)
def test_bad_config_files(tmp_path, capsys, text, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    code = main(["train", "--config", str(cfg), "--out", str(tmp_path / "x")])
    _one_line_error(capsys, code, needle)


def test_no_command_and_other_usage_errors(tmp_path, capsys):
    _one_line_error(capsys, main([]), "choose a command")
    _one_line_error(capsys, main(["evaluate", str(tmp_path)]), "is not a run folder")
    (tmp_path / "config.json").write_text("{not json")
    _one_line_error(capsys, main(["evaluate", str(tmp_path)]), "cannot read")
    code = main(["train", "--resume", str(tmp_path), "--lr", "0.1"])
    _one_line_error(capsys, code, "only --epochs", "not --lr")
    (tmp_path / "config.json").write_text("[1, 2]")
    _one_line_error(capsys, main(["evaluate", str(tmp_path)]), "not an fnnet run config")
    # a folder with another program's config.json is not cleared for a run
    (tmp_path / "config.json").write_text('{"name": "something else"}')
    code = main(["train", "--epochs", "1", "--out", str(tmp_path)])
    _one_line_error(capsys, code, "is not empty and holds no fnnet run (it has config.json)")
    assert (tmp_path / "config.json").read_text() == '{"name": "something else"}'
    # a run folder that cannot be created
    (tmp_path / "file").write_text("")
    code = main(["train", "--epochs", "1", "--out", str(tmp_path / "file" / "run")])
    _one_line_error(capsys, code, "file/run")


def test_resume_with_fewer_epochs_is_an_error(tmp_path, capsys):
    out = _train(tmp_path, "run")
    capsys.readouterr()
    _one_line_error(
        capsys, main(["train", "--resume", str(out), "--epochs", "2"]), "fewer than the 3 epochs"
    )


def test_corrupted_and_mismatched_checkpoints(tmp_path, capsys):
    out = _train(tmp_path, "run")
    good = (out / "checkpoint.npz").read_bytes()
    (out / "checkpoint.npz").write_bytes(good[: len(good) // 2])
    capsys.readouterr()
    _one_line_error(capsys, main(["evaluate", str(out)]), "not a readable checkpoint")
    _one_line_error(capsys, main(["train", "--resume", str(out)]), "not a readable checkpoint")
    other = _train(tmp_path, "other", "--model", "mlp:8")
    capsys.readouterr()
    (out / "checkpoint.npz").write_bytes((other / "checkpoint.npz").read_bytes())
    line = _one_line_error(capsys, main(["evaluate", str(out)]), "does not match the model")
    assert "params/0/W is (8, 4) float32, expected (16, 4) float32" in line


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--optimizer", "sgd", "--lr", "1e30", "--epochs", "5"])
    assert code == 1
    line = _one_line_error(
        capsys, code, "non-finite loss", "at epoch 1, step", "try a smaller --lr", str(out)
    )
    assert "initial" in line
    with np.load(out / "checkpoint.npz") as npz:
        assert int(npz["epoch"]) == 0
        assert np.isfinite(npz["params/0/W"]).all()
    assert main(["evaluate", str(out)]) == 0


def test_idx_folder_dataset(tmp_path, capsys):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    images = (rng.integers(0, 60, (60, 6, 6)) + 60 * labels[:, None, None]).astype(np.uint8)
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:40])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:40].astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", images[40:])
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[40:].astype(np.uint8))
    out = tmp_path / "run"
    args = ["train", "--dataset", f"idx:{folder}", "--model", "mlp:8", "--out", str(out)]
    assert main([*args, "--epochs", "10", "--lr", "0.05", "--batch-size", "8"]) == 0
    text = capsys.readouterr().out
    assert "37 train / 3 val / 20 test examples" in text
    assert float(text.split("test accuracy ")[1].split()[0]) >= 0.9
    assert json.loads((out / "config.json").read_text())["dataset"] == f"idx:{folder.resolve()}"
    (folder / "t10k-labels-idx1-ubyte").unlink()
    _one_line_error(capsys, main(args), "missing t10k-labels-idx1-ubyte")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x01")
    _one_line_error(capsys, main(args), "t10k-labels-idx1-ubyte: IDX header says shape (9,)")


def test_without_matplotlib_the_plots_are_skipped_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = _train(tmp_path, "run")
    err = capsys.readouterr().err
    assert err.count("matplotlib is not installed") == 1
    assert not (out / "loss.png").exists()
    assert (out / "metrics.csv").exists()


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    _train(tmp_path, "quiet")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    _train(tmp_path, "bar")
    err = capsys.readouterr().err
    assert "epoch 1/3" in err and "/6 " in err  # a tqdm bar over the 6 steps


def test_python_dash_m_fnnet(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fnnet", "train", "--epochs", "2", "--model", "mlp:4"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "epoch 2/2" in proc.stdout and "test accuracy" in proc.stdout
    assert "Traceback" not in proc.stderr and "\r" not in proc.stderr
    assert (tmp_path / "runs" / "iris-mlp-4-seed0" / "metrics.csv").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "fnnet", "train", "--dataset", "nope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("fnnet: error: unknown dataset 'nope'")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_cnn_on_digits(tmp_path, capsys):
    out = _train(tmp_path, "cnn", "--dataset", "digits", "--model", "cnn:4,8", "--epochs", "2")
    text = capsys.readouterr().out
    assert "cnn:4,8 on digits: 1259 train / 269 val / 269 test examples" in text
    accuracy = float(text.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.8
    with np.load(out / "checkpoint.npz") as npz:
        assert npz["params/0/W"].shape == (3, 3, 1, 4)  # (kh, kw, Cin, Cout)
    assert main(["evaluate", str(out)]) == 0
    assert f"test accuracy {accuracy:.4f}" in capsys.readouterr().out
    _one_line_error(
        capsys, main(["train", "--model", "cnn", "--out", str(tmp_path / "x")]), "cnn needs images"
    )


@pytest.mark.parametrize(
    ("model", "first_param", "shape"),
    [
        ("resnet", "params/0/W", (3, 3, 1, 16)),  # the stem: Conv2d 3x3, 1 -> 16 channels
        ("resnet:4,8:blocks=2", "params/0/W", (3, 3, 1, 4)),
        ("rnn:32", "params/1/0/W_ih", (32, 8)),  # each step is a row of 8 pixels
        ("gru:32", "params/1/0/W_ih", (96, 8)),  # gates r, z, n stacked: 3 H
        ("lstm:32", "params/1/0/W_ih", (128, 8)),  # gates i, f, g, o: 4 H
    ],
)
def test_new_model_families_train_on_digits(tmp_path, capsys, model, first_param, shape):
    out = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--model", model, "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    spec = parse_model(model)
    params = count_params(spec, (8, 8, 1), 10)
    assert lines[0].startswith(
        f"{model} on digits: 1259 train / 269 val / 269 test examples, {params} parameters"
    )
    assert lines[1].split()[:3] == ["path", "layer", "output"]
    assert f"total: {params:,} parameters, {4 * params:,} bytes" in lines
    kind = spec.kind
    assert ("BasicBlock" in text or "fan_in_sum" in text) if kind == "resnet" else "RNN" in text
    if kind != "resnet":
        assert lines[2].split()[:4] == ["0", "RowsAsSequence", "(-1,", "8,"]
    assert "epoch 1/1  train loss" in text
    accuracy = float(text.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.3  # one epoch, 10 classes: chance is 0.1
    with np.load(out / "checkpoint.npz") as npz:
        assert npz[first_param].shape == shape
    assert main(["evaluate", str(out)]) == 0
    evaluated = capsys.readouterr().out
    assert f"test accuracy {accuracy:.4f}" in evaluated and "path" not in evaluated
