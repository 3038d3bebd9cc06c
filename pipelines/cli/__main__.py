"""``python -m pipelines.cli``: the same as the ``underpay`` console script."""

from pipelines.cli.main import entry

entry()
