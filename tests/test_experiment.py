import json

import numpy as np
import pytest

from fnnet import experiment, random
from fnnet.experiment import (
    build,
    epoch_key,
    load_splits,
    parse_dataset,
    read_metrics,
    write_metrics,
)

CONFIG = {
    "dataset": "iris",
    "model": "mlp:8",
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "constant",
    "batch_size": 16,
    "epochs": 2,
    "seed": 0,
    "threads": 1,
}


def test_parse_dataset():
    assert parse_dataset("iris") == ("iris", "")
    assert parse_dataset("spirals") == ("spirals", "3")
    assert parse_dataset("spirals:5") == ("spirals", "5")
    assert parse_dataset("idx:/data/mnist") == ("idx", "/data/mnist")
    for bad in (
        "cifar",
        "iris:2",
        "spirals:1",
        "spirals:x",
        "idx:",
        "idx",
        "spirals:",
        "spirals:03",
    ):
        with pytest.raises(ValueError, match="dataset"):
            parse_dataset(bad)


def test_splits_are_standardised_with_training_statistics():
    s = load_splits("iris", random.key(0), flatten=True)
    assert [len(s.train[0]), len(s.val[0]), len(s.test[0])] == [90, 30, 30]
    assert s.num_classes == 3 and s.train[0].dtype == np.float32
    np.testing.assert_allclose(s.train[0].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.train[0].std(0), 1, atol=1e-4)
    assert np.abs(s.test[0].mean(0)).max() > 1e-3  # not refitted on the test split
    again = load_splits("iris", random.key(0), flatten=True)
    np.testing.assert_array_equal(again.test[0], s.test[0])


def test_image_splits_keep_or_flatten_images():
    images = load_splits("digits", random.key(0), flatten=False)
    assert images.train[0].shape[1:] == (8, 8, 1) and images.num_classes == 10
    assert len(images.test[0]) == 269  # 15% of each class, rounded
    assert abs(float(images.train[0].mean())) < 1e-4  # one global mean and std
    flat = load_splits("digits", random.key(0), flatten=True)
    np.testing.assert_array_equal(flat.train[0], images.train[0].reshape(-1, 64))


def test_synthetic_splits_depend_on_the_key():
    a = load_splits("spirals:4", random.key(0), flatten=True)
    assert a.num_classes == 4 and len(a.train[0]) + len(a.val[0]) + len(a.test[0]) == 1500
    b = load_splits("spirals:4", random.key(1), flatten=True)
    assert not np.array_equal(a.train[0], b.train[0])


def test_build_and_epoch_keys():
    exp = build(CONFIG)
    assert exp.steps_per_epoch == 6
    assert exp.params["0"]["W"].shape == (8, 4)
    assert int(exp.opt_state["count"]) == 0
    assert epoch_key(0, 3) == epoch_key(0, 3) != epoch_key(0, 4)
    assert epoch_key(1, 3) != epoch_key(0, 3)


def test_metrics_round_trip_exactly(tmp_path):
    rows = [["1", repr(0.1 + 0.2), "0.5", "1e-05", "1.0", "0.01"]]
    write_metrics(tmp_path, rows)
    assert read_metrics(tmp_path) == rows
    (tmp_path / "metrics.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unexpected header"):
        read_metrics(tmp_path)


RUN = {**{k: v for k, v in CONFIG.items() if k != "momentum"}, "optimizer": "adam", "lr": 0.01}


def test_run_returns_a_summary_and_reports_each_epoch(tmp_path):
    rows = []
    summary = experiment.run({**RUN, "epochs": 3}, tmp_path / "a", on_epoch=rows.append)
    assert summary["status"] == "ok" and summary["error"] is None and summary["epochs"] == 3
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["epochs"] == 3
    assert summary["final_val_loss"] == rows[-1]["val_loss"]
    assert summary["final_val_accuracy"] == rows[-1]["val_accuracy"]
    assert summary["best_val_loss"] == min(r["val_loss"] for r in rows)
    assert summary["best_val_accuracy"] == max(r["val_accuracy"] for r in rows)
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["test_loss"] > 0
    assert summary["wall_time"] > 0 and summary["threads"] in (1, None)
    metrics = read_metrics(tmp_path / "a")
    assert [float(r[3]) for r in metrics] == [r["val_loss"] for r in rows]
    assert json.loads((tmp_path / "a" / "done").read_text())["status"] == "ok"
    # a second call with the same config finds the run finished: nothing is trained again
    again = []
    second = experiment.run({**RUN, "epochs": 3}, tmp_path / "a", on_epoch=again.append)
    assert again == [] and second["test_loss"] == summary["test_loss"]


def test_run_continues_an_interrupted_run_to_the_same_bytes(tmp_path, monkeypatch):
    full = tmp_path / "full"
    experiment.run({**RUN, "epochs": 3}, full)
    real = experiment.runner.train_epoch
    calls = []

    def stop_in_epoch_2(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(experiment.runner, "train_epoch", stop_in_epoch_2)
    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        experiment.run({**RUN, "epochs": 3}, part)
    monkeypatch.setattr(experiment.runner, "train_epoch", real)
    rows = []
    experiment.run({**RUN, "epochs": 3}, part, on_epoch=rows.append)
    assert [r["epoch"] for r in rows] == [2, 3]
    for name in ("metrics.csv", "checkpoint.npz", "config.json"):
        assert (full / name).read_bytes() == (part / name).read_bytes(), name


def test_run_reports_divergence_instead_of_raising(tmp_path):
    config = {**CONFIG, "lr": 1e30}
    summary = experiment.run(config, tmp_path / "d")
    assert summary["status"] == "diverged" and summary["epochs"] == 0
    assert "non-finite loss" in summary["error"] and "epoch 1, step" in summary["error"]
    assert summary["final_val_loss"] is None and np.isfinite(summary["test_loss"])
    with np.load(tmp_path / "d" / "checkpoint.npz") as npz:
        assert int(npz["epoch"]) == 0


def test_run_raises_library_errors_before_writing(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        experiment.run({**RUN, "dataset": "cifar"}, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="the run folder must be a path, got ''"):
        experiment.run(RUN, "")
    with pytest.raises(ValueError, match="missing options: seed"):
        experiment.run({k: v for k, v in RUN.items() if k != "seed"}, tmp_path / "x")


def test_run_refuses_a_folder_of_another_config_and_a_cosine_extension(tmp_path):
    experiment.run({**RUN, "schedule": "cosine"}, tmp_path / "a")
    with pytest.raises(experiment.RunFolderError, match=r"differs .* in seed \(0 there, 1 here\)"):
        experiment.run({**RUN, "schedule": "cosine", "seed": 1}, tmp_path / "a")
    with pytest.raises(experiment.RunFolderError, match="would not equal an uninterrupted"):
        experiment.run({**RUN, "schedule": "cosine", "epochs": 4}, tmp_path / "a")
    with pytest.raises(experiment.RunFolderError, match="holds no run to continue"):
        experiment.run(RUN, tmp_path / "empty", resume=True)
    # resume=False starts afresh, replacing the earlier run's files
    summary = experiment.run({**RUN, "seed": 1}, tmp_path / "a", resume=False)
    assert summary["config"]["seed"] == 1
