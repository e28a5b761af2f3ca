"""Sweeps: grids (or random samples) of stateless experiments, on any executor.

>>> spec = fnnet.sweep.read_spec("iris-lr.toml")
>>> configs = fnnet.sweep.expand(spec)         # pure, fixed order
>>> rows = fnnet.sweep.run(spec, "sweeps/iris-lr", workers=2)

Every run is an ordinary run folder (``DIR/runs/<run_id>/``), a pure function of its
config: it gives the same bytes alone (``fnnet train`` at the same ``--threads``), in a
sequential sweep, on local worker processes or on Dask workers. See
:mod:`fnnet.sweep.spec` for the spec and :mod:`fnnet.sweep.runner` for the folder.
"""

from fnnet.sweep.report import table
from fnnet.sweep.runner import plan, run, run_one
from fnnet.sweep.spec import SweepError, check, expand, fingerprint, read_spec, run_id, swept_keys

__all__ = [
    "SweepError",
    "check",
    "expand",
    "fingerprint",
    "plan",
    "read_spec",
    "run",
    "run_id",
    "run_one",
    "swept_keys",
    "table",
]
