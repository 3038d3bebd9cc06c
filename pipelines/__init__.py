"""underpay pipelines: ERA in -> warehouse -> validate -> price -> compare -> report.

Sub-packages, in the direction the imports run (docs/architecture.md):
    core        errors, warehouse, money, SQL files, months, paths, config, lock, logs, process tuning
    ingest      835 files -> warehouse tables (read, scan, envelope, loops, tables, validate, load, schedule)
    synthetic   test 835 files
    compare     expected (contract, Medicare) vs actual allowed -> variances
    runs        the monthly run, the unattended nightly run, the demo
    cli         the `underpay` command, a thin shell over these functions

Importing any of them starts no thread and changes no environment variable: the process settings
an ingest wants are one explicit call (``pipelines.core.process.tune_for_ingest``).
"""

__version__ = "0.1.0"
