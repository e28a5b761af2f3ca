import numpy as np
import pytest

from fnnet import random
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
}


def test_parse_dataset():
    assert parse_dataset("iris") == ("iris", "")
    assert parse_dataset("spirals") == ("spirals", "3")
    assert parse_dataset("spirals:5") == ("spirals", "5")
    assert parse_dataset("idx:/data/mnist") == ("idx", "/data/mnist")
    for bad in ("cifar", "iris:2", "spirals:1", "spirals:x", "idx:", "idx"):
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
