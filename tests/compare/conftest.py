"""A tiny warehouse builder: rows written straight into the ingest tables (no 835 parsing)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.core.warehouse import connect

D = Decimal
NO_CHARGE = Decimal("0")


class Builder:
    """Writes payments / claims / service_lines / adjustments rows with sensible defaults."""

    def __init__(self, con):
        self.con = con
        self.ids = itertools.count(1)
        # The loader fills these on every row: the ST ordinal within the file and each row's
        # segment position (increasing in the order the rows are written, as in an 835).
        self.transactions = itertools.count(1)
        self.segments = itertools.count(1)

    def payment(
        self,
        payer_id="ACME1",
        payer_name="ACME HEALTH",
        *,
        paid_on=dt.date(2025, 3, 20),
        payee_tin="123456789",
        n1_id=None,
        ref_2u=None,
        trn03=None,
        payee_npi=None,
    ) -> int:
        pid = next(self.ids)
        self.con.execute(
            """INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, payment_date, payer_id,
                   payer_n1_id, payer_ref_2u, originating_company_id, payer_name, payee_tin, payee_npi, total_paid)
               VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)""",
            [
                pid,
                next(self.transactions),
                next(self.segments),
                paid_on,
                payer_id,
                n1_id if n1_id is not None else payer_id,
                ref_2u,
                trn03,
                payer_name,
                payee_tin,
                payee_npi,
            ],
        )
        return pid

    def claim(
        self, payment_id, *, status="1", pos="11", pcn=None, icn=None, charge=NO_CHARGE, reverses=None, rendering=None
    ) -> int:
        """rendering: the rendering provider's NPI (NM1*82 09, qualifier XX), None when the claim has no NM1*82."""
        cid = next(self.ids)
        self.con.execute(
            """INSERT INTO claims (claim_id, payment_id, file_id, segment_number, status_code, charge, paid,
                   place_of_service, patient_control_number, payer_claim_number, reverses_claim_id,
                   rendering_provider_id, rendering_provider_qualifier)
               VALUES (?, ?, 1, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)""",
            [
                cid,
                payment_id,
                next(self.segments),
                status,
                charge,
                pos,
                pcn or f"PCN{cid}",
                icn or f"ICN{cid}",
                reverses,
                rendering,
                None if rendering is None else "XX",
            ],
        )
        return cid

    def line(
        self,
        claim_id,
        code,
        charge,
        *,
        mods=(),
        units=1,
        allowed=None,
        adj=None,
        dos=dt.date(2025, 3, 3),
        original_code=None,
        remarks=(),
        line_number=None,
        claim_adj=(),
    ) -> int:
        """adj: list of (group, reason, amount); default none (paid in full)."""
        lid = next(self.ids)
        payment_id = self.con.execute("SELECT payment_id FROM claims WHERE claim_id = ?", [claim_id]).fetchone()[0]
        adj = list(adj or [])
        charge = D(str(charge))
        paid = charge - sum((D(str(a[2])) for a in adj), D("0"))
        mods = list(mods)
        self.con.execute(
            """INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number,
                   qualifier, procedure_code, modifiers, charge, paid, units, service_date, allowed,
                   original_procedure_code, remark_codes, line_control_number)
               VALUES (?, ?, ?, 1, ?, ?, 'HC', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                lid,
                claim_id,
                payment_id,
                next(self.segments),
                line_number or lid,
                code,
                mods,
                charge,
                paid,
                D(str(units)),
                dos,
                None if allowed is None else D(str(allowed)),
                original_code,
                list(remarks),
                f"LCN{lid}",
            ],
        )
        # Each list of triplets is one CAS segment (triplet_index 1.. within it).
        cas = next(self.segments)
        for i, (group, reason, amount) in enumerate(adj, start=1):
            self.con.execute(
                """INSERT INTO adjustments (file_id, payment_id, claim_id, line_id, segment_number, triplet_index,
                       group_code, reason_code, amount) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [payment_id, claim_id, lid, cas, i, group, reason, D(str(amount))],
            )
        cas = next(self.segments)
        for i, (group, reason, amount) in enumerate(claim_adj, start=1):
            self.con.execute(
                """INSERT INTO adjustments (file_id, payment_id, claim_id, line_id, segment_number, triplet_index,
                       group_code, reason_code, amount) VALUES (1, ?, ?, NULL, ?, ?, ?, ?, ?)""",
                [payment_id, claim_id, cas, i, group, reason, D(str(amount))],
            )
        return lid


@pytest.fixture()
def wh(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield Builder(con)
    con.close()


def write_contract(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def variance(con, line_id) -> dict:
    cur = con.execute("SELECT * FROM variances WHERE line_id = ?", [line_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, f"no variances row for line {line_id}"
    return dict(zip(cols, row))


# --- Medicare amounts computed by hand from the CMS files in ../shared (independent of fee_schedules)
import csv  # noqa: E402
from decimal import ROUND_HALF_UP  # noqa: E402


def cents(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


class CmsHand:
    """Reads PPRRVU / GPCI rows with the csv module and applies the CMS formula (RVU25A.pdf)."""

    def __init__(self, cms_dir: Path):
        self.cms = cms_dir
        self._rvu: dict = {}
        self._gpci: dict = {}

    def rvu(self, code: str, mod: str = "", file: str = "2025/PPRRVU25_JAN.csv") -> dict:
        if file not in self._rvu:
            with open(self.cms / file, newline="", encoding="latin-1") as fh:
                rows = list(csv.reader(fh))
            start = next(i for i, r in enumerate(rows) if r and r[0] == "HCPCS") + 1
            self._rvu[file] = {(r[0], r[1]): r for r in rows[start:] if r and r[0]}
        r = self._rvu[file][(code, mod)]
        return {
            "status": r[3],
            "work": D(r[5]),
            "nf_pe": D(r[6]),
            "f_pe": D(r[8]),
            "mp": D(r[10]),
            "mult_proc": r[18],
            "bilat": r[19],
            "asst": r[20],
            "co": r[21],
            "cf": D(r[24]),
            "opps_nf_pe": D(r[28]),
            "opps_f_pe": D(r[29]),
            "opps_mp": D(r[30]),
        }

    def gpci(self, carrier: str = "13202", locality: str = "01") -> dict:
        if not self._gpci:
            with open(self.cms / "2025" / "GPCI2025.csv", newline="", encoding="latin-1") as fh:
                for r in csv.reader(fh):
                    if r and r[0].strip().isdigit() and len(r) >= 7:
                        self._gpci[(r[0].strip().zfill(5), r[2].strip().zfill(2))] = (D(r[4]), D(r[5]), D(r[6]))
        w, pe, mp = self._gpci[(carrier, locality)]
        return {"work": w, "pe": pe, "mp": mp}

    def amount(
        self,
        code: str,
        mod: str = "",
        *,
        facility: bool = False,
        carrier="13202",
        locality="01",
        file: str = "2025/PPRRVU25_JAN.csv",
    ) -> Decimal:
        r, g = self.rvu(code, mod, file), self.gpci(carrier, locality)
        pe = r["f_pe"] if facility else r["nf_pe"]
        amt = cents((r["work"] * g["work"] + pe * g["pe"] + r["mp"] * g["mp"]) * r["cf"])
        opps_pe = r["opps_f_pe"] if facility else r["opps_nf_pe"]
        if opps_pe > 0:
            amt = min(amt, cents((r["work"] * g["work"] + opps_pe * g["pe"] + r["opps_mp"] * g["mp"]) * r["cf"]))
        return amt


@pytest.fixture(scope="session")
def cms(cms_dir) -> CmsHand:
    return CmsHand(cms_dir)


@pytest.fixture()
def mwh(mpfs_db):
    """A builder over a warehouse that has the 2025/2026 MPFS imported."""
    con = connect(mpfs_db)
    yield Builder(con)
    con.close()
