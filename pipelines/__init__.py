"""underpay pipelines: ERA in -> warehouse -> validate -> price -> compare -> report.

Stages (one module each):
    x12.py        tokenize X12 bytes into segment/element frames
    ingest.py     835 frames -> warehouse tables (era_files, payments, claims, ...)
    validate.py   pandera models of every ingest table + the 835 balancing rules
    compare.py    expected (contract, Medicare) vs actual allowed -> variances
    nightly.py    the unattended inbox -> archive/quarantine run
    monthly.py    the monthly run (compare + report + exports)
    demo.py       synthetic practice end to end
The CLI (cli.py and commands/) is a thin shell over these functions.
"""

import os

# underpay does no linear algebra, but numpy starts OpenBLAS worker threads that were measured
# spinning for ~0.1 CPU-s of a 4 s ingest on 2 cores. One thread, unless the user chose otherwise;
# set before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
