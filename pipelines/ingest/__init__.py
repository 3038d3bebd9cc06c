"""Ingest: 835 files -> warehouse tables. Modules in the order the data flows:

    read       bytes off disk, hashed (SHA-256), started early for the first file
    scan       X12 delimiters and segment boundaries (numpy; no object per segment)
    segments   tag ids, element splitting, exact numbers and dates (the shared vocabulary)
    envelope   ISA/GS/ST/SE/GE/IEA structure and counts over the whole file
    loops      transaction / claim / line keys for a slice of whole transactions
    mapping    the declared 835 element -> warehouse column table
    tables     one frame per warehouse table, driven by the mapping
    validate   pandera models of every ingest table and the balancing rules
    load       one file = one DuckDB transaction: ids, re-sent payments, inserts, reversals

Beside the flow, ``schedule`` owns every thread of an ingest and the sizes its work is cut into
(``LoadPlan``, ``IngestSchedule``); the other modules take an executor or a size as a parameter.
Importing this package starts nothing: no thread, no environment change.
"""
