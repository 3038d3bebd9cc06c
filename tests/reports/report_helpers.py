"""Helpers for the report tests: a small warehouse built by inserting rows into the real tables,
and a structural reader of rendered pages.

A small warehouse for the report tests, built by inserting rows into the real tables.

The comparison and ingest stages fill these tables in production; here rows are written
directly (through the public DDL) so the reports can be tested on known figures. The data
includes a hostile payer name and patient names to test escaping and PHI masking.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.core.warehouse import connect

HOSTILE = "<script>alert(1)</script>"
D = Decimal


class WarehouseBuilder:
    """Collects rows per table and writes them with INSERT ... BY NAME."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = {}
        self._line = 0
        self._claim = 0
        self._segment = 0  # segment_number of the ingest rows, increasing as in an 835
        self.claims: dict[int, tuple[str, str]] = {}

    def _next_segment(self) -> int:
        self._segment += 1
        return self._segment

    def add(self, table: str, **row) -> dict:
        self.tables.setdefault(table, []).append(row)
        return row

    def payment(
        self,
        payment_id: int,
        payer_id: str,
        payer_name: str,
        payment_date: date,
        file_id: int = 1,
        trace: str | None = None,
    ) -> None:
        in_file = sum(1 for p in self.tables.get("payments", []) if p["file_id"] == file_id)
        self.add(
            "payments",
            payment_id=payment_id,
            file_id=file_id,
            transaction_index=in_file + 1,  # the ST ordinal within the file
            segment_number=self._next_segment(),
            payer_id=payer_id,
            payer_name=payer_name,
            payment_date=payment_date,
            trace_number=trace or f"TR{payment_id}",
            total_paid=D("0"),
        )

    def claim(
        self,
        payment_id: int,
        *,
        pcn: str,
        first: str | None = None,
        last: str | None = None,
        member: str | None = None,
        payer_claim: str | None = None,
    ) -> int:
        self._claim += 1
        self.claims[self._claim] = (pcn, payer_claim or f"PAYER-{self._claim}")
        self.add(
            "claims",
            claim_id=self._claim,
            payment_id=payment_id,
            file_id=1,
            segment_number=self._next_segment(),
            patient_control_number=pcn,
            payer_claim_number=self.claims[self._claim][1],
            patient_first_name=first,
            patient_last_name=last,
            patient_member_id=member,
            status_code="1",
        )
        return self._claim

    def line(
        self,
        claim_id: int,
        payer_id: str,
        payer_name: str,
        payment_date: date,
        category: str,
        *,
        code: str = "99213",
        billed="150.00",
        expected="100.00",
        actual="100.00",
        paid=None,
        pr="0.00",
        units="1",
        medicare="80.00",
        modifiers=(),
        carc=(),
        rarc=(),
        facility=False,
        reason=None,
        service_date: date | None = None,
        pcn: str | None = None,
        explanation: str | None = None,
    ) -> dict:
        self._line += 1
        expected_d = None if expected is None else D(expected)
        actual_d = None if actual is None else D(actual)
        variance = None if expected_d is None or actual_d is None else expected_d - actual_d
        med = None if medicare is None else D(medicare)
        u = D(units)
        return self.add(
            "variances",
            line_id=self._line,
            claim_id=claim_id,
            payment_id=claim_id,
            file_id=1,
            payer_id=payer_id,
            payer_name=payer_name,
            contract="Test contract",
            patient_control_number=pcn or self.claims[claim_id][0],
            payer_claim_number=self.claims[claim_id][1],
            line_control_number=f"L{self._line}",
            claim_status="1",
            facility=facility,
            service_date=service_date or payment_date - timedelta(days=20),
            payment_date=payment_date,
            payment_month=payment_date.replace(day=1),
            procedure_code=code,
            modifiers=list(modifiers),
            units=u,
            billed=D(billed),
            expected_allowed=expected_d,
            actual_allowed=actual_d,
            paid=D(paid) if paid is not None else (actual_d or D(0)) - D(pr),
            patient_responsibility=D(pr),
            variance=variance,
            medicare_allowed=None if med is None else med * u,
            percent_of_medicare=None,
            category=category,
            explanation=explanation or f"{category}: expected {expected}, actual {actual}",
            medicare_unit_amount=med,
            not_priced_reason=reason,
            carc_codes=list(carc),
            rarc_codes=list(rarc),
            recoded=False,
            pending=False,
        )

    def write(self, path: Path) -> Path:
        con = connect(path)
        for table, rows in self.tables.items():
            cols = sorted({k for r in rows for k in r})
            schema = dict(
                con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [table]
                ).fetchall()
            )
            df = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], infer_schema_length=None)
            con.register("incoming", df.to_arrow())
            casts = ", ".join(f'CAST("{c}" AS {schema[c]}) AS "{c}"' for c in cols)
            con.execute(f"INSERT INTO {table} BY NAME SELECT {casts} FROM incoming")
            con.unregister("incoming")
        con.close()
        return path


MARCH = date(2026, 3, 16)
FEB = date(2026, 2, 12)


def build_sample(b: WarehouseBuilder) -> WarehouseBuilder:
    """Three payers over two months, with every category, PLB and data-quality rows."""
    b.payment(1, "ACME1", "ACME HEALTH", MARCH)
    b.payment(2, "HOST1", HOSTILE, MARCH)
    b.payment(3, "MCR", "MEDICARE PART B", MARCH)
    b.payment(4, "ACME1", "ACME HEALTH", FEB)
    b.payment(5, "HOST1", HOSTILE, FEB)
    # March, ACME: an underpaid claim (Jane Doe), a denied claim, correct lines
    c1 = b.claim(1, pcn="PCN-JD-1", first="Jane", last="Doe", member="W123456789")
    b.line(
        c1,
        "ACME1",
        "ACME HEALTH",
        MARCH,
        "underpaid",
        code="20553",
        billed="200.00",
        expected="83.85",
        actual="80.00",
        medicare="67.08",
        carc=["CO-45"],
        explanation="125% of Medicare 2026 = $83.85; actual $80.00",
    )
    b.line(
        c1,
        "ACME1",
        "ACME HEALTH",
        MARCH,
        "correct",
        code="99213",
        billed="150.00",
        expected="100.00",
        actual="100.00",
        pr="20.00",
        carc=["CO-45", "PR-2"],
    )
    c2 = b.claim(1, pcn="PCN-ZO-2", first="Zoë", last="O'Brien", member="AB12")
    b.line(
        c2,
        "ACME1",
        "ACME HEALTH",
        MARCH,
        "denied",
        code="99214",
        billed="250.00",
        expected="140.00",
        actual="0.00",
        carc=["CO-197"],
        rarc=["N54"],
    )
    b.line(
        c2,
        "ACME1",
        "ACME HEALTH",
        MARCH,
        "underpaid",
        code="99214",
        billed="250.00",
        expected="140.00",
        actual="120.00",
        units="1",
    )
    c3 = b.claim(1, pcn="PCN-3", first="Ann", last="Lee", member="X9999999")
    b.line(
        c3, "ACME1", "ACME HEALTH", MARCH, "overpaid", code="99213", billed="150.00", expected="100.00", actual="110.00"
    )
    b.line(
        c3,
        "ACME1",
        "ACME HEALTH",
        MARCH,
        "not_priced",
        code="0001U",
        billed="90.00",
        expected=None,
        actual="50.00",
        medicare=None,
        reason="no RVU row for 0001U",
    )
    # March, hostile payer: underpaid 2 units, and denied without an expected amount
    c4 = b.claim(2, pcn="PCN<b>4</b>", first="Mallory", last="<img src=x>", member="M00000042")
    b.line(
        c4,
        "HOST1",
        HOSTILE,
        MARCH,
        "underpaid",
        code="20553",
        billed="400.00",
        expected="167.70",
        actual="150.00",
        units="2",
        medicare="67.08",
        pcn="PCN<b>4</b>",
        explanation=f"contract for {HOSTILE}: expected $167.70",
    )
    b.line(
        c4,
        "HOST1",
        HOSTILE,
        MARCH,
        "denied",
        code="97110",
        billed="60.00",
        expected=None,
        actual="0.00",
        medicare="30.00",
        carc=["CO-97"],
        rarc=["M15"],
        pcn="PCN<b>4</b>",
    )
    b.line(
        c4,
        "HOST1",
        HOSTILE,
        MARCH,
        "no_contract",
        code="99213",
        billed="150.00",
        expected=None,
        actual="95.00",
        pcn="PCN<b>4</b>",
    )
    # March, Medicare: correct, reversed pair, secondary, pending
    c5 = b.claim(3, pcn="PCN-5", first="Bob", last="Ray", member="1EG4TE5MK73")
    b.line(
        c5,
        "MCR",
        "MEDICARE PART B",
        MARCH,
        "correct",
        code="99213",
        billed="150.00",
        expected="80.00",
        actual="80.00",
        pr="16.00",
        carc=["CO-45", "PR-2", "CO-253"],
    )
    b.line(
        c5, "MCR", "MEDICARE PART B", MARCH, "reversed", code="99213", billed="150.00", expected=None, actual="80.00"
    )
    b.line(
        c5, "MCR", "MEDICARE PART B", MARCH, "reversed", code="99213", billed="-150.00", expected=None, actual="-80.00"
    )
    b.line(
        c5,
        "MCR",
        "MEDICARE PART B",
        MARCH,
        "pending",
        code="99215",
        billed="300.00",
        expected=None,
        actual="0.00",
        carc=["OA-133"],
    )
    # February (previous month)
    c6 = b.claim(4, pcn="PCN-6", first="Cy", last="Fox", member="F12345678")
    b.line(
        c6,
        "ACME1",
        "ACME HEALTH",
        FEB,
        "underpaid",
        code="20553",
        billed="200.00",
        expected="83.85",
        actual="70.00",
        medicare="67.08",
    )
    b.line(
        c6, "ACME1", "ACME HEALTH", FEB, "correct", code="99213", billed="150.00", expected="100.00", actual="100.00"
    )
    c7 = b.claim(5, pcn="PCN-7", first="Di", last="Go", member="G12345678")
    b.line(
        c7,
        "HOST1",
        HOSTILE,
        FEB,
        "denied",
        code="99213",
        billed="150.00",
        expected="90.00",
        actual="0.00",
        carc=["CO-16"],
        rarc=["MA130"],
    )
    b.line(
        c7,
        "HOST1",
        HOSTILE,
        FEB,
        "correct",
        code="20553",
        billed="200.00",
        expected="75.00",
        actual="75.00",
        medicare="67.08",
    )
    # PLB ledger, data quality
    b.add(
        "provider_adjustments",
        file_id=1,
        payment_id=1,
        segment_number=40,
        pair_index=1,
        provider_id="1234567890",
        fiscal_period_date=date(2026, 12, 31),
        reason_code="WO",
        reference_id="RECOUP-77",
        amount=D("45.10"),
    )
    b.add(
        "provider_adjustments",
        file_id=1,
        payment_id=2,
        segment_number=41,
        pair_index=1,
        provider_id="1234567890",
        fiscal_period_date=date(2026, 12, 31),
        reason_code="L6",
        reference_id="INT",
        amount=D("-3.25"),
    )
    b.add(
        "era_files",
        file_id=1,
        path="inbox/acme_0316.835",
        file_name="acme_0316.835",
        sha256="a" * 64,
        loaded_at=datetime(2026, 3, 17, 2, 0),
        status="loaded",
    )
    b.add(
        "era_files",
        file_id=2,
        path="inbox/bad.835",
        file_name="bad<i>.835",
        sha256="b" * 64,
        loaded_at=datetime(2026, 3, 20, 2, 0),
        status="rejected",
        reason="ISA segment missing",
        error_segment=1,
    )
    b.add(
        "validation_issues",
        file_id=1,
        payment_id=1,
        claim_id=1,
        segment_number=33,
        rule="balance_claim",
        severity="error",
        expected="80.00",
        actual="79.00",
        message="CLP04 does not equal the sum of SVC03",
    )
    return b


LONG_PAYERS = (
    ("CEDAR1", "CEDAR COMMERCIAL INSURANCE"),
    ("BCBS1", "BLUE CROSS BLUE SHIELD OF THE MIDWEST"),
    ("UNITY1", "UNITY HEALTH PLAN"),
)
LONG_CODES = ("99214", "20553", "97110", "73110", "84443", "90471", "J1885", "G2211")
UNBROKEN = "REF-" + "0123456789ABCDEF" * 12  # a 196-character token with no break in it


def long_explanation(seed: int, code: str, expected: Decimal, actual: Decimal) -> str:
    """A pricing explanation as the comparison writes them, 250 to 900 characters long."""
    steps = "; ".join(
        f"step {k}: (work {1 + k / 10:.2f} x 1.065 + PE {0.5 + k / 7:.2f} x 1.166 + MP 0.0{k} x 1.656)"
        f" x CF 32.3465 = ${10 + 3 * k:.2f}"
        for k in range(1, 2 + seed % 5)
    )
    return (
        f"110% of Medicare 2026 locality 13202-01 non-facility for {code}, multiple procedure reduction 50%"
        f" (rank 2) [{steps}]; lesser of billed charges (not lower) = ${expected}; actual allowed ${actual}"
        f" (billed less CO/OA/PI adjustments); variance ${expected - actual}"
    )


def add_long_claims(b: WarehouseBuilder, when: date = MARCH, claims: int = 36) -> dict[int, list[str]]:
    """Claims paid on ``when`` with many lines (1 to 6), several codes and long explanations,
    under payers with long names. The first (the worst, so the worklist's first claim) has a
    2,000-character explanation holding an unbroken 196-character token. Returns claim id ->
    the explanations of its lines."""
    out: dict[int, list[str]] = {}
    for k, (payer_id, name) in enumerate(LONG_PAYERS):
        b.payment(20 + k, payer_id, name, when)
    for i in range(claims):
        payer_id, name = LONG_PAYERS[i % len(LONG_PAYERS)]
        claim = b.claim(
            20 + i % len(LONG_PAYERS), pcn=f"PCN2026{i:06d}", first="Pat", last=f"Long{i}", member=f"W{i:09d}"
        )
        out[claim] = []
        for n in range(1 + i % 6):
            code = LONG_CODES[(i + n) % len(LONG_CODES)]
            denied = (i + n) % 4 == 0
            expected = D(5000) if (i, n) == (0, 0) else D(40 + 7 * ((i * 13 + n * 5) % 30))
            actual = D(0) if denied else expected - D(3 + (i + n) % 17)
            text = long_explanation(i + n, code, expected, actual)
            if (i, n) == (0, 0):
                text = f"{text} {UNBROKEN} " + " ".join([text] * 4)
            b.line(
                claim,
                payer_id,
                name,
                when,
                "denied" if denied else "underpaid",
                code=code,
                billed=str(expected * 2),
                expected=str(expected),
                actual=str(actual),
                units=str(1 + n % 3),
                modifiers=("59", "XU") if n % 3 == 1 else (),
                carc=["CO-45", "CO-97"] if denied else ["CO-45"],
                rarc=["N20"] if denied else [],
                explanation=text,
            )
            out[claim].append(text)
    return out


# ------------------------------------------------------------------ a structural HTML reader

from html.parser import HTMLParser  # noqa: E402


class ReportPage(HTMLParser):
    """Reads a rendered report into sections, tables, figures, scripts and SVGs (no regexes).

    A table is {"caption", "headers", "rows", "footer", "sub"}: rows are lists of (text, data-v)
    cells. In a grouped table (the worklist) "rows" holds the main row of each group and "sub" the
    table folded under it (a table without an id, nested in a <details>), in the same order.
    """

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.sections: list[dict] = []  # {"id", "h2"}
        self.tables: dict[str, dict] = {}  # id -> {"caption", "headers", "rows": [[(text, data_v)]], "sub"}
        self.figures: dict[str, dict] = {}  # data-key -> {"value", "previous", "text"}
        self.scripts: list[str] = []
        self.svgs: list[dict] = []
        self.tags: list[str] = []  # every start tag, in order
        self.urls: list[str] = []  # src/href attribute values
        self.notes: list[dict] = []  # <p class="note ..."> attributes
        self.summaries: list[str] = []  # <summary> texts
        self._open: list[dict] = []  # open tables, innermost last, each with its own cell state
        self._in: str | None = None  # h2 | script | summary (outside table cells)
        self._text: list[str] = []
        self._figure: dict | None = None
        self.feed(text)

    @property
    def _table(self) -> dict | None:
        return self._open[-1] if self._open else None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for k in ("src", "href", "xlink:href", "action", "data"):
            if a.get(k):
                self.urls.append(a[k])
        t = self._table
        if tag == "section":
            self.sections.append({"id": a.get("id"), "h2": None})
        elif tag == "h2" and self.sections:
            self._in, self._text = "h2", []
        elif tag == "table":
            new = {"caption": "", "headers": [], "rows": [], "footer": [], "sub": [], "_in": None, "_row": None}
            if a.get("id") is not None or t is None:
                self.tables[a.get("id")] = new
            else:
                t["sub"].append(new)
            self._open.append(new)
        elif t is not None and tag in ("caption", "th", "td"):
            t["_in"], t["_text"], t["_v"] = tag, [], a.get("data-v")
        elif tag == "tfoot" and t is not None:
            t["in_footer"] = True
        elif tag == "tr" and t is not None:
            t["_row"] = []
            t["_row_class"] = a.get("class") or ""
        elif tag == "summary":
            self._in, self._text = "summary", []
        elif tag == "script":
            self._in, self._text = "script", []
        elif tag == "svg":
            self.svgs.append(a)
        elif tag == "div" and "data-key" in a:
            self._figure = {"value": a.get("data-value"), "previous": a.get("data-previous")}
            self.figures[a["data-key"]] = self._figure
        elif tag == "p" and "note" in (a.get("class") or ""):
            self.notes.append(a)

    def handle_endtag(self, tag):
        t = self._table
        if t is not None and tag in ("caption", "th", "td") and t["_in"] == tag:
            text = " ".join("".join(t["_text"]).split())
            t["_in"] = None
            if tag == "caption":
                t["caption"] = text
            elif tag == "th":
                t["headers"].append(text)
            elif t["_row"] is not None:
                t["_row"].append((text, t["_v"]))
        elif tag == "tr" and t is not None and t["_row"] is not None:
            row, t["_row"] = t["_row"], None
            if row and "detail" not in t.get("_row_class", ""):  # a group's folded lines: see "sub"
                t["footer" if t.get("in_footer") else "rows"].append(row)
        elif tag == "table" and t is not None:
            self._open.pop()
        text = " ".join("".join(self._text).split())
        if tag == "h2" and self._in == "h2":
            self.sections[-1]["h2"] = text
            self._in = None
        elif tag == "summary" and self._in == "summary":
            self.summaries.append(text)
            self._in = None
        elif tag == "script" and self._in == "script":
            self.scripts.append("".join(self._text))
            self._in = None

    def handle_data(self, data):
        t = self._table
        in_cell = t is not None and t["_in"] is not None
        if in_cell:
            t["_text"].append(data)
        if self._in:  # a <summary> sits in a table cell: its text goes to both
            self._text.append(data)
        elif not in_cell and self._figure is not None and data.strip():
            self._figure.setdefault("text", []).append(data.strip())

    def column(self, table_id: str, header: str) -> list[tuple[str, str]]:
        t = self.tables[table_id]
        i = t["headers"].index(header)
        return [r[i] for r in t["rows"] if len(r) == len(t["headers"])]

    def records(self, table: dict) -> list[dict]:
        """A table's rows as {header: text}."""
        return [dict(zip(table["headers"], (c[0] for c in r))) for r in table["rows"]]


def read_page(path) -> ReportPage:
    return ReportPage(Path(path).read_text(encoding="utf-8"))
