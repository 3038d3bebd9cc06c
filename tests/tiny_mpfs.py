"""A small 2025 fee-schedule release the tests write themselves, in CMS's own file layouts.

For tests that need *a* Medicare price for every code the synthetic writer bills (the nightly,
monthly and contract-checker tests exercise orchestration, not CMS's figures), so they run on a
clone without ../shared and offline. The rows are INVENTED: one row per code of
pipelines.synthetic.codes (plus 26/TC rows where the code has components), RVUs derived from our
own chargemaster price, a conversion factor of 30.0000, and one locality (MAC 13202, locality 01)
that ZIP 10001 maps to. Nothing here is a CMS amount; tests of CMS's figures read the real release.

The files go through the real importer (fee_schedules.importer.import_release), so they must keep
the layouts the loaders read: PPRRVU's stacked header (RVU25A.pdf), GPCI Addendum E, the LOCCO
crosswalk, ANES and the fixed-width ZIP5 record (ZIP5lyout.txt).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from pipelines.synthetic.codes import COMMON_CODES

YEAR = 2025
CONVERSION_FACTOR = "30.0000"
CARRIER, LOCALITY, STATE, ZIP5 = "13202", "01", "NY", "10001"
GPCI = ("1.050", "1.100", "1.200")  # invented work, PE, MP GPCIs of the one locality

# PPRRVU header rows as CMS stacks them (31 columns); the loader joins each column's cells
_RVU_HEADER = [
    [
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "NON-FACILITY",
        "FACILITY",
        "",
    ],
    [
        "",
        "",
        "",
        "",
        "NOT USED",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "PHYSICIAN",
        "",
        "DIAGNOSTIC",
        "PE USED",
        "PE USED",
        "MP USED",
    ],
    [
        "",
        "",
        "",
        "",
        "FOR",
        "",
        "",
        "NON-FAC",
        "",
        "FACILITY",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "SUPERVISION OF",
        "",
        "IMAGING",
        "FOR OPPS",
        "FOR OPPS",
        "FOR OPPS",
    ],
    [
        "",
        "",
        "",
        "STATUS",
        "MEDICARE",
        "WORK",
        "NON-FAC",
        "NA",
        "FACILITY",
        "NA",
        "MP",
        "NON-FACILITY",
        "FACILITY",
        "PCTC",
        "GLOB",
        "PRE",
        "INTRA",
        "POST",
        "MULT",
        "BILAT",
        "ASST",
        "CO-",
        "TEAM",
        "ENDO",
        "CONV",
        "DIAGNOSTIC",
        "CALCULATION",
        "FAMILY",
        "PAYMENT",
        "PAYMENT",
        "PAYMENT",
    ],
    [
        "HCPCS",
        "MOD",
        "DESCRIPTION",
        "CODE",
        "PAYMENT",
        "RVU",
        "PE RVU",
        "INDICATOR",
        "PE RVU",
        "INDICATOR",
        "RVU",
        "TOTAL",
        "TOTAL",
        "IND",
        "DAYS",
        "OP",
        "OP",
        "OP",
        "PROC",
        "SURG",
        "SURG",
        "SURG",
        "SURG",
        "BASE",
        "FACTOR",
        "PROCEDURES",
        "FLAG",
        "INDICATOR",
        "AMOUNT",
        "AMOUNT",
        "AMOUNT",
    ],
]


def _d(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01")))


def rvu_rows() -> list[dict]:
    """The invented RVU rows: (hcpcs, modifier) -> work, nf_pe, f_pe, mp, and the code's indicators."""
    rows = []
    for c in COMMON_CODES:
        work = (Decimal(c.charge) / 150).quantize(Decimal("0.01"))
        nf_pe, f_pe, mp = work * Decimal("0.8"), work * Decimal("0.4"), work * Decimal("0.05")
        variants = [("", work, nf_pe, f_pe, mp)]
        if c.has_components:  # professional and technical components add up to the global
            variants += [
                ("26", work, f_pe / 2, f_pe / 2, mp / 2),
                ("TC", Decimal(0), nf_pe - f_pe / 2, nf_pe - f_pe / 2, mp - mp / 2),
            ]
        for mod, w, npe, fpe, m in variants:
            rows.append(
                {
                    "hcpcs": c.code,
                    "modifier": mod,
                    "work": Decimal(_d(w)),
                    "nf_pe": Decimal(_d(npe)),
                    "f_pe": Decimal(_d(fpe)),
                    "mp": Decimal(_d(m)),
                    "pctc": c.pctc,
                    "mult_proc": c.mult_proc,
                    "global_days": "000" if c.category == "procedure" else "XXX",
                }
            )
    return rows


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("latin-1")


def write_release(folder: Path) -> Path:
    """Write the release's files into ``folder/2025/`` (the mirror layout); return that year folder."""
    top = folder / str(YEAR)
    top.mkdir(parents=True, exist_ok=True)
    rvu = [["", "", f"{YEAR} invented fee schedule for tests (not CMS data)"] + [""] * 28, *_RVU_HEADER]
    for r in rvu_rows():
        total_nf, total_f = r["work"] + r["nf_pe"] + r["mp"], r["work"] + r["f_pe"] + r["mp"]
        rvu.append(
            [
                r["hcpcs"],
                r["modifier"],
                "",
                "A",
                "",
                _d(r["work"]),
                _d(r["nf_pe"]),
                "",
                _d(r["f_pe"]),
                "",
                _d(r["mp"]),
                _d(total_nf),
                _d(total_f),
                r["pctc"],
                r["global_days"],
                "0.00",
                "0.00",
                "0.00",
                r["mult_proc"],
                "0",
                "0",
                "0",
                "0",
                "",
                CONVERSION_FACTOR,
                "09",
                "0",
                "99",
                "0.00",
                "0.00",
                "0.00",
            ]
        )
    (top / f"PPRRVU{YEAR % 100}_JAN.csv").write_bytes(_csv(rvu))
    (top / f"GPCI{YEAR}.csv").write_bytes(
        _csv(
            [
                ["INVENTED GEOGRAPHIC PRACTICE COST INDICES FOR TESTS", "", "", "", "", "", ""],
                [""] * 7,
                [
                    "Medicare Administrative Contractor (MAC)",
                    "State",
                    "Locality Number",
                    "Locality Name",
                    f"{YEAR} PW GPCI (with 1.0 Floor)",
                    f"{YEAR} PE GPCI",
                    f"{YEAR} MP GPCI",
                ],
                [CARRIER, STATE, LOCALITY, "TEST LOCALITY", *GPCI],
            ]
        )
    )
    (top / f"{YEAR % 100}LOCCO.csv").write_bytes(
        _csv(
            [
                ["COUNTIES INCLUDED IN THE INVENTED TEST LOCALITY", "", "", "", ""],
                [""] * 5,
                ["Medicare Adminstrative Contractor", "Locality Number", "State ", "Fee Schedule Area ", "Counties"],
                [CARRIER, str(int(LOCALITY)), "NEW YORK ", "TEST LOCALITY", "NEW YORK "],
            ]
        )
    )
    (top / f"ANES{YEAR}.csv").write_bytes(
        _csv(
            [
                ["Contractor", "Locality", "Locality Name", "National Anes CF of 20.0000"],
                [f"{CARRIER} ", f"{LOCALITY} ", "TEST LOCALITY", "21.00 "],
            ]
        )
    )
    # ZIP5lyout.txt: state 1-2, ZIP 3-7, MAC 8-12, locality 13-14, rural 15, +4 flag 21, year+quarter 76-80
    record = f"{STATE}{ZIP5}{CARRIER}{LOCALITY}" + " " * 6 + "0"
    record = record.ljust(75) + f"{YEAR}1"
    (top / f"ZIP5_JAN{YEAR}.txt").write_bytes((record + "\r\n").encode("ascii"))
    return top


def build_warehouse(path: Path, folder: Path) -> Path:
    """A warehouse at ``path`` with the release written under ``folder`` imported by the real importer."""
    from fee_schedules.importer import import_release
    from pipelines.core.warehouse import connect

    year_dir = write_release(folder)
    con = connect(path)
    try:
        import_release(con, year_dir, YEAR, "A")
    finally:
        con.close()
    return path
