"""The ``fnnet`` command line: ``fnnet train``, ``fnnet evaluate``.

- :mod:`fnnet.cli.commands`: argument parsing and the commands (``main``);
- :mod:`fnnet.cli.config`: the options, their defaults and checks, TOML and config.json;
- :mod:`fnnet.cli.specs`: model, schedule and optimizer specs (``mlp:64,64:bn``).

The work itself (building a run, training, run folders) is :mod:`fnnet.experiment`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fnnet`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    # imported here: fnnet.experiment uses this package's config and specs, and the
    # commands use fnnet.experiment
    from fnnet.cli.commands import main as run_command

    return run_command(argv)
