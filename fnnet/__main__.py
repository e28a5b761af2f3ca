"""``python -m fnnet train ...``: the same as the ``fnnet`` command."""

from fnnet.cli import main

raise SystemExit(main())
