"""The command line: a thin shell over the library (``main`` is the click group, ``entry`` the
console script)."""

from pipelines.cli.main import entry, main

__all__ = ["entry", "main"]
