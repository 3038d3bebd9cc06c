"""CMS's own published amounts as the oracle: OPPSCAP (every capped code x locality, Jan and Oct 2025)
and PFREV25C (76145 in all 109 localities). Expected values come from CMS's files, parsed here with csv."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from fee_schedules.pricing import price_lines


def _oppscap(path):
    with open(path, encoding="latin-1", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and len(r) == 7 and r[0] != "HCPCS" and r[0].strip("\x1a")]
    return rows


@pytest.mark.parametrize(
    "rel,path,when",
    [
        ("A", "2025/OPPSCAP_JAN.csv", date(2025, 2, 1)),
        ("D", "2025/RVU25D/OPPSCAP_Oct.csv", date(2025, 12, 1)),
    ],
)
def test_every_oppscap_amount_matches(mpfs_con, cms_dir, rel, path, when):
    rows = _oppscap(cms_dir / path)
    assert len(rows) == 16100
    # CA 17/18/71-74 are listed under both 01112 and 01182; GPCI knows them under 01182 only.
    gpci_localities = {
        (r[0], r[2])
        for r in csv.reader(open(cms_dir / "2025/GPCI2025.csv", encoding="latin-1"))
        if r and r[0].isdigit()
    }
    rows = [r for r in rows if (r[3], r[4]) in gpci_localities]
    assert len(rows) == 109 * 140
    lines = pl.DataFrame(
        {
            "row_id": list(range(2 * len(rows))),
            "procedure_code": [r[0] for r in rows] * 2,
            "modifiers": [[r[1]] if r[1] else [] for r in rows] * 2,
            "service_date": [when] * (2 * len(rows)),
            "locality": [r[3] + r[4] for r in rows] * 2,
            "facility": [False] * len(rows) + [True] * len(rows),
        }
    )
    want = [Decimal(r[6]) for r in rows] + [Decimal(r[5]) for r in rows]
    status = [r[2] for r in rows] * 2
    out = price_lines(mpfs_con, lines)
    assert out["mpfs_release"].unique().to_list() == [rel]
    checked = 0
    for row, amount, st in zip(out.iter_rows(named=True), want, status):
        if st == "C":  # carrier priced: the file holds only the cap, we must not price it
            assert row["status"] == "not_priced" and row["not_priced_reason"] == "status C: carrier (MAC) priced"
            continue
        assert row["amount"] == amount, (row["procedure_code"], row["locality_code"], row["setting"], row["formula"])
        checked += 1
    assert checked > 12000
    assert out.filter(pl.col("status") == "priced")["opps_capped"].any()


@pytest.mark.parametrize("when", [date(2025, 7, 15), date(2025, 10, 15)])
def test_pfrev25c_76145_all_localities(mpfs_con, cms_dir, when):
    with open(cms_dir / "2025/PFREV25C/PFREV25C.txt", encoding="latin-1", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("TRL")]
    assert len(rows) == 109
    lines = pl.DataFrame(
        {
            "row_id": list(range(2 * len(rows))),
            "procedure_code": [r[3] for r in rows] * 2,
            "modifiers": [[r[4].strip()] if r[4].strip() else [] for r in rows] * 2,
            "service_date": [when] * (2 * len(rows)),
            "locality": [r[1] + r[2] for r in rows] * 2,
            "facility": [False] * len(rows) + [True] * len(rows),
        }
    )
    want = [Decimal(r[5]) for r in rows] + [Decimal(r[6]) for r in rows]
    out = price_lines(mpfs_con, lines)
    assert out["amount"].to_list() == want
