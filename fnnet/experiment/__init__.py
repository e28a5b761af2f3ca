"""One experiment, from a resolved config to a run folder: what ``fnnet train``, sweeps
and scripts share.

- :mod:`fnnet.experiment.build`: data, model, optimizer and initial trees from a config
  (:func:`build`, :func:`load_splits`, :func:`epoch_key`, :func:`fingerprint`);
- :mod:`fnnet.experiment.rundir`: the run folder's files, its lock, checkpoints, plots;
- :mod:`fnnet.experiment.runner`: :func:`run`, the epoch loop with resume;
- :mod:`fnnet.experiment.threads`: the BLAS thread count a run is reproducible at
  (:func:`blas_threads_env` for a fresh worker process, :func:`set_blas_threads`).

>>> summary = fnnet.experiment.run({**config, "epochs": 5}, "runs/a")
>>> summary["status"], summary["test_accuracy"]
"""

from fnnet.datasets import parse_dataset
from fnnet.experiment.build import (
    MAX_PARAMS,
    Experiment,
    Splits,
    build,
    canonical_json,
    epoch_key,
    fingerprint,
    load_splits,
)
from fnnet.experiment.rundir import (
    METRICS_COLUMNS,
    RUN_FILES,
    RunFolderError,
    RunLockedError,
    is_run_folder,
    load_checkpoint,
    plot,
    read_metrics,
    save_checkpoint,
    versions,
    write_config,
    write_metrics,
)
from fnnet.experiment.runner import config_differences, run
from fnnet.experiment.threads import blas_threads, blas_threads_env, set_blas_threads

__all__ = [
    "MAX_PARAMS",
    "METRICS_COLUMNS",
    "RUN_FILES",
    "Experiment",
    "RunFolderError",
    "RunLockedError",
    "Splits",
    "blas_threads",
    "blas_threads_env",
    "build",
    "canonical_json",
    "config_differences",
    "epoch_key",
    "fingerprint",
    "is_run_folder",
    "load_checkpoint",
    "load_splits",
    "parse_dataset",
    "plot",
    "read_metrics",
    "run",
    "save_checkpoint",
    "set_blas_threads",
    "versions",
    "write_config",
    "write_metrics",
]
