"""Tests for fnnet.config: precedence of the option sources, checks, run configs."""

import json

import pytest

from fnnet.cli.config import (
    DATASET_DEFAULTS,
    ConfigError,
    check,
    defaults_table,
    read_run_config,
    read_toml,
    resolve,
)


def test_resolve_takes_dataset_defaults_then_file_then_given(tmp_path):
    config, out = resolve({})
    assert config["dataset"] == "iris" and config["model"] == DATASET_DEFAULTS["iris"]["model"]
    assert str(out) == "runs/iris-mlp-16-seed0"
    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "spirals"\nlr = 0.05\nbatch-size = 8\n')
    config, _ = resolve({"lr": 0.2}, str(toml))
    assert config["dataset"] == "spirals"
    assert config["model"] == DATASET_DEFAULTS["spirals"]["model"]  # the file's dataset's
    assert config["batch_size"] == 8  # from the file
    assert config["lr"] == 0.2  # given beats the file
    _, out = resolve({"out": str(tmp_path / "here")})
    assert out == tmp_path / "here"


def test_resolve_and_check_reject_bad_options(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown options \['colour'\]"):
        resolve({"colour": "red"})
    with pytest.raises(ConfigError, match="--lr must be > 0, finite, got -1"):
        resolve({"lr": -1.0})
    with pytest.raises(ConfigError, match=r"--momentum must be in \[0, 1\), got 1.0"):
        resolve({"momentum": 1.0, "optimizer": "sgd"})
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'"):
        resolve({"optimizer": "rmsprop"})
    config, _ = resolve({})
    with pytest.raises(ConfigError, match=r"^epochs must be at least 1, got 0"):
        check({**config, "epochs": 0})


def test_read_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_toml(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_toml(str(bad))
    bad.write_text('epochs = "ten"')
    with pytest.raises(ConfigError, match="epochs must be an integer, got 'ten'"):
        read_toml(str(bad))
    bad.write_text("seed = true")
    with pytest.raises(ConfigError, match="seed must be an integer, got True"):
        read_toml(str(bad))
    bad.write_text("lr = 1")  # an int where a float is expected is fine
    assert read_toml(str(bad)) == {"lr": 1.0}


def test_read_run_config(tmp_path):
    with pytest.raises(ConfigError, match="is not a run folder"):
        read_run_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "iris"}))
    with pytest.raises(ConfigError, match="missing model, optimizer"):
        read_run_config(tmp_path)
    config, _ = resolve({"seed": 3})
    (tmp_path / "config.json").write_text(json.dumps({**config, "fnnet": "0.1.0"}))
    assert read_run_config(tmp_path) == config


def test_defaults_table_lists_every_dataset():
    table = defaults_table()
    assert all(f"  {name} " in table for name in DATASET_DEFAULTS)
