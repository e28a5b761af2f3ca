"""fnnet.sweep: expansion, the sweep folder, resume, failures, and byte-identical runs
whether a run ran alone, sequentially, on worker processes or on a Dask cluster."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import pytest

from fnnet import sweep
from fnnet.cli import main
from fnnet.sweep import SweepError

SPEC = {
    "sweep": {"name": "t", "seeds": [0, 1]},
    "base": {"dataset": "iris", "epochs": 2, "model": "mlp:4"},
    "grid": {"lr": [0.01, 0.1]},
}
METRIC_COLUMNS = slice(0, -2)  # every column but wall_time and error


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def results(folder: Path) -> list[list[str]]:
    with open(folder / "results.csv", newline="") as f:
        return [row[METRIC_COLUMNS] for row in csv.reader(f)]


def same_run_files(a: Path, b: Path) -> None:
    for name in ("checkpoint.npz", "metrics.csv", "config.json"):
        assert filecmp.cmp(a / name, b / name, shallow=False), (a, name)


def test_expand_grid_order_and_resolution():
    configs = sweep.expand(SPEC)
    assert [(c["lr"], c["seed"]) for c in configs] == [(0.01, 0), (0.01, 1), (0.1, 0), (0.1, 1)]
    assert all(c["optimizer"] == "adam" and c["threads"] == 1 for c in configs)  # iris defaults
    assert sweep.expand(SPEC) == configs  # pure
    base = {"dataset": "iris", "epochs": 2}
    two = {**SPEC, "base": base, "grid": {"lr": [0.01, 0.1], "model": ["mlp:4", "mlp:8"]}}
    models = [(c["lr"], c["model"]) for c in sweep.expand(two)[::2]]
    assert models == [(0.01, "mlp:4"), (0.01, "mlp:8"), (0.1, "mlp:4"), (0.1, "mlp:8")]
    ids = {sweep.run_id(c) for c in sweep.expand(two)}
    assert len(ids) == 8 and all(len(i) == 12 for i in ids)


def test_expand_random_is_reproducible_and_extends():
    spec = {
        "sweep": {"method": "random", "num_samples": 5, "seed": 3, "seeds": [0]},
        "base": {"epochs": 1},
        "random": {
            "lr": {"loguniform": [1e-4, 1e-1]},
            "batch_size": {"randint": [4, 8]},
            "model": {"choice": ["mlp:4", "mlp:8"]},
        },
    }
    a = sweep.expand(spec)
    assert a == sweep.expand(spec)
    assert all(1e-4 <= c["lr"] <= 1e-1 and 4 <= c["batch_size"] <= 8 for c in a)
    assert len({c["lr"] for c in a}) == 5
    more = sweep.expand({**spec, "sweep": {**spec["sweep"], "num_samples": 7}})
    assert more[:5] == a  # point i depends on i alone
    other = sweep.expand({**spec, "sweep": {**spec["sweep"], "seed": 4}})
    assert [c["lr"] for c in other] != [c["lr"] for c in a]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**SPEC, "grid": {}}, r"\[grid\] must name at least one option"),
        ({**SPEC, "grid": {"lr": []}}, "non-empty list"),
        ({**SPEC, "grid": {"lr": [0.1, 0.1]}}, "repeats a value"),
        ({**SPEC, "grid": {"nope": [1]}}, "unknown option 'nope'"),
        ({**SPEC, "grid": {"epochs": [1]}}, r"both in \[base\] and \[grid\]"),
        ({**SPEC, "grid": {"lr": [-1.0]}}, "lr must be > 0, finite"),
        ({**SPEC, "sweep": {"seeds": []}}, "seeds must be a non-empty list"),
        ({**SPEC, "sweep": {"method": "bayes"}}, "method must be 'grid' or 'random'"),
        ({**SPEC, "extra": {}}, "unknown tables"),
        ({**SPEC, "random": {"lr": {"uniform": [0, 1]}}}, r"\[random\] is given"),
        (
            {"sweep": {"method": "random"}, "random": {"lr": {"loguniform": [0, 1]}}},
            "loguniform needs low > 0",
        ),
        (
            {"sweep": {"method": "random"}, "random": {"lr": {"gauss": [0, 1]}}},
            "must be one of",
        ),
    ],
)
def test_bad_specs_are_named(spec, message):
    with pytest.raises(SweepError, match=message):
        sweep.expand(spec)


def test_sweep_folder_matches_fnnet_train_byte_for_byte(tmp_path):
    rows = sweep.run(SPEC, tmp_path / "s")
    assert [r["status"] for r in rows] == ["ok"] * 4
    meta = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert meta["fingerprint"] == sweep.fingerprint(sweep.check(SPEC))
    header = (tmp_path / "s" / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["run_id", "name", "status", "lr", "seed"]
    assert "test_accuracy" in header and header[-2:] == ["wall_time", "error"]
    config = sweep.expand(SPEC)[3]
    alone = tmp_path / "alone"
    args = ["train", "--dataset", "iris", "--epochs", "2", "--model", "mlp:4", "--lr", "0.1"]
    assert main([*args, "--seed", "1", "--threads", "1", "--out", str(alone)]) == 0
    same_run_files(tmp_path / "s" / "runs" / sweep.run_id(config), alone)


def test_two_workers_and_resume_give_the_same_bytes(tmp_path):
    sweep.run(SPEC, tmp_path / "seq")
    sweep.run(SPEC, tmp_path / "par", workers=2)
    assert results(tmp_path / "seq") == results(tmp_path / "par")
    for run in (tmp_path / "seq" / "runs").iterdir():
        same_run_files(run, tmp_path / "par" / "runs" / run.name)
    # an interrupted run (no done marker, one epoch of two) continues; finished ones are skipped
    victim = sorted((tmp_path / "par" / "runs").iterdir())[0]
    (victim / "done").unlink()
    states = {r["run_id"]: r["state"] for r in sweep.plan(SPEC, tmp_path / "par")}
    assert sorted(states.values()) == ["done", "done", "done", "interrupted"]
    seen = []
    sweep.run(SPEC, tmp_path / "par", on_result=lambda r, i, n: seen.append(r["run_id"]))
    assert seen == [victim.name]
    same_run_files(victim, tmp_path / "seq" / "runs" / victim.name)


def test_failed_runs_are_rows_and_retried_only_when_asked(tmp_path, monkeypatch):
    import fnnet.sweep.runner as runner

    real = runner.experiment.run

    def flaky(config, folder):
        if config["lr"] == 0.1 and config["seed"] == 1:
            raise RuntimeError("disk on fire\nsecond line")
        return real(config, folder)

    monkeypatch.setattr(runner.experiment, "run", flaky)
    rows = sweep.run(SPEC, tmp_path)
    status = {(r["lr"], r["seed"]): (r["status"], r.get("error")) for r in rows}
    assert status[(0.1, 1)] == ("failed", "RuntimeError: disk on fire")
    assert sum(s == "ok" for s, _ in status.values()) == 3
    (failure,) = json.loads((tmp_path / "failed.json").read_text()).values()
    assert failure["status"] == "failed"
    ran = []
    hook = lambda r, i, n: ran.append(r["name"])  # noqa: E731
    sweep.run(SPEC, tmp_path, on_result=hook)
    assert ran == []  # not retried without retry_failed
    monkeypatch.setattr(runner.experiment, "run", real)
    rows = sweep.run(SPEC, tmp_path, retry_failed=True, on_result=hook)
    assert ran == ["lr=0.1,seed=1"] and all(r["status"] == "ok" for r in rows)
    assert json.loads((tmp_path / "failed.json").read_text()) == {}


def test_fail_fast_stops_after_the_first_failure(tmp_path, monkeypatch):
    import fnnet.sweep.runner as runner

    def broken(config, folder):
        raise ValueError("bad")

    monkeypatch.setattr(runner.experiment, "run", broken)
    rows = sweep.run(SPEC, tmp_path, fail_fast=True)
    assert [r["status"] for r in rows] == ["failed"]


def test_diverged_run_is_a_row_not_a_crash(tmp_path):
    spec = {**SPEC, "grid": {"lr": [1e30]}, "sweep": {"seeds": [0]}}
    (row,) = sweep.run(spec, tmp_path)
    assert row["status"] == "diverged" and "non-finite" in row["error"]


def test_changed_spec_refused_unless_grid_points_are_added(tmp_path):
    sweep.run(SPEC, tmp_path)
    with pytest.raises(SweepError, match=r"\[base\]"):
        sweep.run({**SPEC, "base": {**SPEC["base"], "epochs": 3}}, tmp_path)
    with pytest.raises(SweepError, match="values removed"):
        sweep.run({**SPEC, "grid": {"lr": [0.01]}}, tmp_path)
    ran = []
    bigger = {**SPEC, "grid": {"lr": [0.01, 0.1, 0.05]}}
    rows = sweep.run(bigger, tmp_path, on_result=lambda r, i, n: ran.append(r["name"]))
    assert ran == ["lr=0.05,seed=0", "lr=0.05,seed=1"] and len(rows) == 6


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="holds no sweep"):
        sweep.run(SPEC, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


SPEC_TOML = """
[sweep]
name = "cli"
seeds = [0]
[base]
dataset = "iris"
epochs = 1
model = "mlp:4"
[grid]
lr = [0.01, 0.1]
"""


def test_command_line_sweep_dry_run_table_and_errors(tmp_path, capsys):
    spec = write_spec(tmp_path / "s.toml", SPEC_TOML)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("new") == 2 and not out.exists()
    assert main(["sweep", str(spec), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lr" in text and "val acc" in text and "2 runs: 2 ok" in text
    assert (out / "summary.png").stat().st_size > 0
    assert main(["sweep", str(spec), "--out", str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("done") == 2
    bad = write_spec(tmp_path / "bad.toml", SPEC_TOML.replace("lr = [0.01, 0.1]", "lr = []"))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fnnet: error: ") and err.count("\n") == 1 and "non-empty" in err
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--workers", "0"]) == 2


def test_dask_local_cluster_gives_the_same_bytes(tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep.run(SPEC, tmp_path / "seq")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        rows = sweep.run(SPEC, tmp_path / "dask", client.get_executor())
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert results(tmp_path / "seq") == results(tmp_path / "dask")
    for run in (tmp_path / "seq" / "runs").iterdir():
        same_run_files(run, tmp_path / "dask" / "runs" / run.name)
