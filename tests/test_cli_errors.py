"""Bad input to the ``fnnet`` command, end to end: one line, a non-zero exit, no traceback.

Most cases call ``main([...])`` in this process and read stderr; a few run
``python -m fnnet`` as a subprocess. Each case is one of issue 13's findings.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fnnet
from fnnet import checkpoint, experiment
from fnnet.cli import main
from fnnet.datasets import write_idx
from fnnet.experiment.rundir import figure

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--epochs", "2", "--model", "mlp:4"]


def one_line_error(capsys, code, *needles, status=2):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status, err
    assert len(lines) == 1, err
    assert lines[0].startswith("fnnet: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def train(tmp_path, name, *extra):
    out = tmp_path / name
    assert main(["train", *QUICK, "--out", str(out), *extra]) == 0
    return out


def fnnet_process(*args, cwd, env=None, timeout=180):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fnnet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_process_error(proc, *needles, status=2):
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fnnet: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- end to end through python -m fnnet ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "--schedule", "step:2,-1"], ["GAMMA must be a number in (0, 1]"]),
        (["train", "--model", "linear:16"], ["linear has no hidden layers"]),
        (["train", "--out", ""], ["--out must name a folder"]),
        (["train", "--bogus"], ["unrecognized arguments: --bogus (see fnnet train --help)"]),
        (["--bogus"], ["(see fnnet --help)"]),
    ],
)
def test_bad_commands_in_a_subprocess(tmp_path, args, needles):
    proc = fnnet_process(*args, cwd=tmp_path)
    assert_process_error(proc, *needles)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even runs/


def test_version(tmp_path, capsys):
    proc = fnnet_process("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fnnet {fnnet.__version__}"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fnnet {fnnet.__version__}"


# --- 1, 2, 20: specs that used to be accepted --------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--schedule", "step:2,-1"], "GAMMA must be a number in (0, 1], got '-1'"),
        (["--schedule", "step:10,0"], "GAMMA must be a number in (0, 1], got '0'"),
        (["--schedule", "step:10,nan"], "GAMMA must be a number in (0, 1], got 'nan'"),
        (["--schedule", "exponential:-1"], "RATE must be a number in (0, 1]"),
        (["--model", "linear:16"], "linear has no hidden layers (for hidden sizes write mlp:16)"),
        (["--model", "linear:16,32"], "linear has no hidden layers"),
        (["--model", "mlp:16:bn:bn"], "option 'bn' given twice"),
        (["--model", "mlp:16:dropout=0.1:dropout=0.2"], "option 'dropout' given twice"),
        (["--model", "mlp:16 "], "sizes must be positive integers"),
        (["--model", "mlp:-4"], "sizes must be positive integers"),
        (["--dataset", "spirals:"], "empty K after spirals:"),
        (["--dataset", "spirals:750"], "K from 2 to 375"),
        (["--dataset", "spirals:1000"], "K from 2 to 375"),
        (["--dataset", "iris:2"], "iris takes no argument"),
        (["--momentum", "0.5"], "--momentum applies to --optimizer sgd only, not adam"),
        (["--optimizer", "sgd", "--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
        (["--threads", "0"], "--threads must be from 1 to 256, got 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_lenient_or_wrong_options_are_refused(tmp_path, capsys, args, needle):
    code = main(["train", "--out", str(tmp_path / "x"), *args])
    one_line_error(capsys, code, needle)
    assert not (tmp_path / "x").exists()


def test_toml_errors_name_the_file_and_key(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text("batch-size = 8\nbatch_size = 16\n")
    code = main(["train", "--config", str(cfg), "--out", str(tmp_path / "x")])
    one_line_error(capsys, code, "'batch-size' and 'batch_size' are the same option")
    cfg.write_text("lr = -1\n")
    code = main(["train", "--config", str(cfg), "--out", str(tmp_path / "x")])
    line = one_line_error(capsys, code, f"config file {cfg}: lr must be > 0, finite, got -1")
    assert "--lr" not in line
    code = main(["train", "--config", "a\0b.toml", "--out", str(tmp_path / "x")])
    one_line_error(capsys, code, "config file", "null")


# --- 3: one process per run folder ----------------------------------------------------


def test_a_locked_run_folder_is_refused(tmp_path, capsys):
    out = train(tmp_path, "run")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with open(out / ".lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        capsys.readouterr()
        code = main(["train", *QUICK, "--seed", "1", "--out", str(out)])
        one_line_error(capsys, code, "in use by another fnnet process")
        code = main(["train", "--resume", str(out), "--epochs", "3"])
        one_line_error(capsys, code, "in use by another fnnet process")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_the_lock_of_a_killed_process_is_released(tmp_path, capsys):
    out = train(tmp_path, "run")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(120)", str(out / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        capsys.readouterr()
        one_line_error(capsys, main(["train", "--resume", str(out), "--epochs", "3"]), "in use")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", "--resume", str(out), "--epochs", "3"]) == 0


# --- 4, 5: resume and evaluate check the config ----------------------------------------


def test_a_cosine_run_cannot_be_extended(tmp_path, capsys):
    out = train(tmp_path, "run", "--schedule", "cosine")
    config = (out / "config.json").read_bytes()
    capsys.readouterr()
    code = main(["train", "--resume", str(out), "--epochs", "4"])
    one_line_error(capsys, code, "cosine schedule", "over 2 epochs", "not equal an uninterrupted")
    assert (out / "config.json").read_bytes() == config  # never claims a 4-epoch run


def test_a_step_schedule_run_extends_to_an_uninterrupted_run(tmp_path):
    full = train(tmp_path, "full", "--schedule", "step:1,0.5", "--epochs", "4")
    short = train(tmp_path, "short", "--schedule", "step:1,0.5")
    assert main(["train", "--resume", str(short), "--epochs", "4"]) == 0
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (full / name).read_bytes() == (short / name).read_bytes(), name


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("model", "mlp:4:act=tanh", "model ('mlp:4', 'mlp:4:act=tanh')"),
        ("seed", 1, "seed (0 there, 1 here)"),
        ("optimizer", "adamw", "optimizer ('adam' there, 'adamw' here)"),
        ("lr", 0.02, "lr (0.01 there, 0.02 here)"),
    ],
)
def test_an_edited_config_json_is_refused(tmp_path, capsys, key, value, named):
    out = train(tmp_path, "run")
    path = out / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), key: value}))
    capsys.readouterr()
    needle = named.replace("', '", "' there, '").replace("')", "' here)")
    one_line_error(capsys, main(["evaluate", str(out)]), "written under another config", needle)
    one_line_error(capsys, main(["train", "--resume", str(out)]), "under another config")


# --- 6: BLAS threads ---------------------------------------------------------------------


def test_threads_are_recorded_and_each_count_reproduces_byte_for_byte(tmp_path):
    args = ["train", "--dataset", "digits", "--model", "mlp:256,256", "--epochs", "1"]
    runs = {}
    for name, threads, env in [
        ("t1a", "1", {"OPENBLAS_NUM_THREADS": "1"}),
        ("t1b", "1", {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}),
        ("t2a", "2", {"OPENBLAS_NUM_THREADS": "2"}),
        ("t2b", "2", {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}),
    ]:
        proc = fnnet_process(*args, "--threads", threads, "--out", name, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        runs[name] = tmp_path / name
        assert json.loads((runs[name] / "config.json").read_text())["threads"] == int(threads)
        assert json.loads((runs[name] / "done").read_text())["threads"] == int(threads)
    for a, b in (("t1a", "t1b"), ("t2a", "t2b")):  # whatever the environment says
        for name in ("checkpoint.npz", "metrics.csv"):
            assert (runs[a] / name).read_bytes() == (runs[b] / name).read_bytes(), (a, b, name)


def test_blas_threads_env_and_effective_count():
    assert experiment.blas_threads_env(3) == {
        "OPENBLAS_NUM_THREADS": "3",
        "OMP_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "3",
    }
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        experiment.blas_threads_env(0)
    before = experiment.blas_threads()
    if before is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS")
    try:
        assert experiment.set_blas_threads(2) and experiment.blas_threads() == 2
        assert experiment.set_blas_threads(1) and experiment.blas_threads() == 1
    finally:
        experiment.set_blas_threads(before)


# --- 9, 10, 12, 19: known before training starts ---------------------------------------


def test_batchnorm_last_batch_of_one_row_is_skipped_and_said(tmp_path, capsys):
    out = tmp_path / "bn"
    args = ["train", "--model", "mlp:16:bn", "--batch-size", "89", "--epochs", "2"]
    assert main([*args, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "last batch of one row: it is skipped every epoch" in err
    with np.load(out / "checkpoint.npz") as npz:
        assert int(npz["opt_state/count"]) == 2  # one step of 89 rows per epoch
    code = main(
        ["train", "--model", "mlp:16:bn", "--batch-size", "1", "--out", str(tmp_path / "x")]
    )
    one_line_error(capsys, code, "BatchNorm needs at least 2 rows per batch (batch size 1")
    assert not (tmp_path / "x").exists()


def idx_folder(path, train_images, train_labels, test_images, test_labels):
    path.mkdir()
    write_idx(path / "train-images-idx3-ubyte", train_images)
    write_idx(path / "train-labels-idx1-ubyte", train_labels)
    write_idx(path / "t10k-images-idx3-ubyte", test_images)
    write_idx(path / "t10k-labels-idx1-ubyte", test_labels)
    return path


def test_idx_problems_found_before_training(tmp_path, capsys):
    labels = (np.arange(40) % 2).astype(np.uint8)
    images = np.zeros((40, 6, 6), np.uint8)
    other = idx_folder(
        tmp_path / "sizes", images, labels, np.zeros((10, 5, 5), np.uint8), labels[:10]
    )
    run = ["train", "--model", "mlp:4", "--out", str(tmp_path / "x"), "--dataset"]
    one_line_error(capsys, main([*run, f"idx:{other}"]), "test images have shape (5, 5, 1)")
    tiny = idx_folder(tmp_path / "tiny", images[:3], labels[:3], images[:2], labels[:2])
    one_line_error(capsys, main([*run, f"idx:{tiny}"]), "too few examples to split")
    big = labels.astype(np.int32)
    big[0] = 2**31 - 1
    huge = idx_folder(tmp_path / "huge", images, big, images[:10], labels[:10].astype(np.int32))
    one_line_error(capsys, main([*run, f"idx:{huge}"]), "parameters; fnnet trains at most")
    nan = idx_folder(
        tmp_path / "nan", np.full((40, 6, 6), np.nan, np.float32), labels, images[:10], labels[:10]
    )
    one_line_error(capsys, main([*run, f"idx:{nan}"]), "holds NaN or infinite values")
    one_line_error(capsys, main([*run, f"idx:{other / 't10k-images-idx3-ubyte'}"]), "is a file")
    bad = other / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + b"\xff" * 12)  # sizes whose product overflows int64
    one_line_error(capsys, main([*run, f"idx:{other}"]), f"{bad}: IDX header says shape")
    assert not (tmp_path / "x").exists()


def test_absurd_sizes_and_memory_errors_are_one_line(tmp_path, capsys, monkeypatch):
    code = main(["train", "--model", "mlp:100000,100000", "--out", str(tmp_path / "x")])
    one_line_error(capsys, code, "has 10,000,900,003 parameters; fnnet trains at most")

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 12.2 TiB")

    monkeypatch.setattr(experiment, "run", out_of_memory)
    code = main(["train", "--out", str(tmp_path / "y")])
    one_line_error(capsys, code, "out of memory", status=1)


# --- 11, 13, 16, 17: damaged run folders ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("epochs", "ten", "epochs must be an integer, got 'ten'"),
        ("lr", "0.1", "lr must be a number, got '0.1'"),
        ("batch_size", None, "batch_size must be an integer, got None"),
        ("batch_size", 16.7, "batch_size must be an integer, got 16.7"),
        ("seed", True, "seed must be an integer, got True"),
        ("threads", 0, "threads must be from 1 to 256, got 0"),
    ],
)
def test_wrong_json_types_in_config_json(tmp_path, capsys, key, value, needle):
    out = train(tmp_path, "run")
    path = out / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), key: value}))
    capsys.readouterr()
    one_line_error(capsys, main(["evaluate", str(out)]), str(path), needle)
    one_line_error(capsys, main(["train", "--resume", str(out)]), needle)


def test_a_garbled_metrics_row_is_found_before_training(tmp_path, capsys):
    out = train(tmp_path, "run")
    lines = (out / "metrics.csv").read_text().splitlines()
    lines[1] = "1,0.5,oops,0.4,0.9,0.01"
    (out / "metrics.csv").write_text("\n".join(lines) + "\n")
    before = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    code = main(["train", "--resume", str(out), "--epochs", "3"])
    one_line_error(capsys, code, "metrics.csv, line 2: not a row of epoch 1")
    assert (out / "checkpoint.npz").read_bytes() == before


@pytest.mark.parametrize("epoch", [-3, 1000])
def test_checkpoint_epoch_is_validated(tmp_path, capsys, epoch):
    out = train(tmp_path, "run")
    arrays = dict(checkpoint.read_arrays(out / "checkpoint.npz"))
    arrays["epoch"] = np.asarray(epoch, np.int64)
    checkpoint.save(out / "checkpoint.npz", arrays)
    capsys.readouterr()
    needle = f"epoch {epoch} is outside 0..2"
    one_line_error(capsys, main(["evaluate", str(out)]), needle)
    one_line_error(capsys, main(["train", "--resume", str(out)]), needle)


def test_out_never_touches_files_fnnet_did_not_write(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.csv").write_text("my own numbers\n")
    (mine / "loss.png").write_bytes(b"my plot")
    code = main(["train", *QUICK, "--out", str(mine)])
    one_line_error(capsys, code, "is not empty and holds no fnnet run", "loss.png, metrics.csv")
    assert (mine / "metrics.csv").read_text() == "my own numbers\n"
    assert (mine / "loss.png").read_bytes() == b"my plot"
    assert sorted(p.name for p in mine.iterdir()) == ["loss.png", "metrics.csv"]
    one_line_error(capsys, main(["train", "--out", ""]), "--out must name a folder")
    one_line_error(capsys, main(["train", "--resume", ""]), "--resume needs a run folder")


def test_stale_temporaries_are_removed_and_a_first_save_kill_is_usable(tmp_path, capsys):
    full = train(tmp_path, "full")
    out = train(tmp_path, "run", "--epochs", "1")
    (out / ".checkpoint.npz.abc123.tmp").write_bytes(b"half a checkpoint")
    (out / ".metrics.csv.x.tmp").write_text("epoch")
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 0
    assert not list(out.glob(".*.tmp"))
    # killed during the first save: config.json and metrics.csv written, no checkpoint yet
    first = tmp_path / "first"
    first.mkdir()
    (first / "config.json").write_bytes((full / "config.json").read_bytes())
    (first / "metrics.csv").write_text((full / "metrics.csv").read_text().splitlines()[0] + "\n")
    (first / ".checkpoint.npz.k1ll3d.tmp").write_bytes(b"PK\x03\x04")
    assert main(["train", "--resume", str(first)]) == 0
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (full / name).read_bytes() == (first / name).read_bytes(), name
    # ... and with epochs in metrics.csv but no checkpoint it says why it cannot go on
    (first / "checkpoint.npz").unlink()
    capsys.readouterr()
    code = main(["train", "--resume", str(first)])
    one_line_error(capsys, code, "2 epochs in metrics.csv but no checkpoint.npz")


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    out = train(tmp_path, "run")
    capsys.readouterr()
    code = main(["train", "--resume", str(out), "--epochs", "0"])
    one_line_error(capsys, code, "--epochs must be at least 1, got 0")
    assert main(["train", "--resume", str(out)]) == 0
    text = capsys.readouterr().out
    assert "all 2 epochs already trained" in text and "epochs 3..2" not in text


# --- 23: plots ---------------------------------------------------------------------------


def test_a_one_epoch_run_draws_its_point_and_ticks_are_integers(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    out = train(tmp_path, "run", "--epochs", "1")
    pixels = matplotlib.image.imread(out / "loss.png")[..., :3]
    blue = np.array([0x1F, 0x77, 0xB4]) / 255  # the train line's colour, C0
    assert (np.abs(pixels - blue).max(-1) < 0.05).sum() > 10
    rows = [[str(e), "1.0", "0.5", "1.1", "0.4", "0.01"] for e in range(1, 4)]
    ticks = figure("run", rows, "loss").axes[0].get_xticks()
    assert len(ticks) > 1 and all(float(t).is_integer() for t in ticks)
