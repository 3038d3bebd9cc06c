"""The synthetic 835 writer writes valid, balanced 005010X221A1 files whose truth matches them.

The files are read back here with a small independent segment reader (not pipelines.ingest.scan), so
the writer is checked without trusting the parser it feeds; the round trip through the real
ingest lives in test_synthetic_roundtrip.py.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.synthetic import codes as codebook
from pipelines.synthetic.writer import (
    SynthPayer,
    SynthSpec,
    default_payers,
    money,
    write_big,
    write_remittances,
    x12_amount,
)

D = Decimal
ZERO = D("0")


# --------------------------------------------------------------------------- independent reader


@dataclass
class Line:
    composite: list[str]
    billed: Decimal
    paid: Decimal
    units: str
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    allowed: Decimal | None = None
    lcn: str | None = None
    remarks: list[str] = field(default_factory=list)
    date: str | None = None


@dataclass
class Claim:
    elements: list[str]
    lines: list[Line] = field(default_factory=list)
    claim_cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)


@dataclass
class Txn:
    control: str
    bpr: list[str]
    trn: list[str]
    payer: list[str] = field(default_factory=list)
    payee: list[str] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    plb: list[tuple[str, str, Decimal]] = field(default_factory=list)


def read_835(data: bytes) -> list[Txn]:
    """Split one interchange, check its envelope counts and control numbers, return payments."""
    text = data.decode("ascii")
    assert text.startswith("ISA"), "no ISA"
    e, comp, term = text[3], text[104], text[105]
    assert len(text.split(term)[0]) == 105, "ISA must be 106 characters with its terminator"
    segs = [s.strip("\r\n") for s in text.split(term)]
    assert segs[-1] == ""
    segs = [s.split(e) for s in segs[:-1]]
    assert all(s[0] for s in segs), "empty segment"
    assert segs[0][0] == "ISA" and segs[-1][0] == "IEA"
    isa, iea = segs[0], segs[-1]
    assert iea[2] == isa[13] and len(isa[13]) == 9
    txns: list[Txn] = []
    groups = 0
    i = 1
    while i < len(segs) - 1:
        gs = segs[i]
        assert gs[0] == "GS" and gs[1] == "HP" and gs[8] == "005010X221A1", gs
        groups += 1
        i += 1
        n_st = 0
        while segs[i][0] == "ST":
            st = segs[i]
            assert st[1:] == ["835", st[2]] and len(st) == 3, "ST03 is not used in the 835"
            start = i
            while segs[i][0] != "SE":
                i += 1
            se = segs[i]
            assert se[2] == st[2], "SE02 must repeat ST02"
            assert int(se[1]) == i - start + 1, f"SE01 {se[1]} != {i - start + 1} segments"
            txns.append(_transaction(segs[start : i + 1], comp))
            n_st += 1
            i += 1
        ge = segs[i]
        assert ge[0] == "GE" and int(ge[1]) == n_st and ge[2] == gs[6]
        i += 1
    assert int(iea[1]) == groups
    controls = [t.control for t in txns]
    assert len(set(controls)) == len(controls), "ST control numbers must be unique in a group"
    return txns


def _amount(text: str) -> Decimal:
    assert re.fullmatch(r"-?\d+(\.\d{1,2})?", text), f"bad amount {text!r}"
    return D(text)


def _transaction(segs: list[list[str]], comp: str) -> Txn:
    txn = Txn(segs[0][2], segs[1], segs[2])
    assert segs[1][0] == "BPR" and segs[2][0] == "TRN"
    claim: Claim | None = None
    line: Line | None = None
    n1 = None
    for s in segs[3:-1]:
        tag = s[0]
        if tag == "N1":
            n1 = s[1]
            if n1 == "PR":
                txn.payer = s
            else:
                txn.payee = s
        elif tag == "REF" and claim is None:
            txn.refs[f"{n1}:{s[1]}"] = s[2]
        elif tag == "CLP":
            claim, line = Claim(s), None
            txn.claims.append(claim)
        elif tag == "NM1" and claim is not None:
            claim.names[s[1]] = s
        elif tag == "DTM" and claim is not None:
            if line is not None:
                line.date = s[2]
            else:
                claim.dates[s[1]] = s[2]
        elif tag == "SVC":
            line = Line(s[1].split(comp), _amount(s[2]), _amount(s[3]), s[5] if len(s) > 5 else "")
            claim.lines.append(line)
        elif tag == "CAS":
            triplets = [(s[1], s[k], _amount(s[k + 1])) for k in range(2, len(s), 3) if s[k]]
            (line.cas if line is not None else claim.claim_cas).extend(triplets)
        elif tag == "REF" and s[1] == "6R":
            line.lcn = s[2]
        elif tag == "AMT" and s[1] == "B6":
            line.allowed = _amount(s[2])
        elif tag == "LQ":
            line.remarks.append(s[2])
        elif tag == "PLB":
            for k in range(3, len(s), 2):
                reason, _, ref = s[k].partition(comp)
                txn.plb.append((reason, ref, _amount(s[k + 1])))
    return txn


def check_balanced(txn: Txn) -> None:
    """The three 835 balancing rules, on exact decimals."""
    claims_paid = sum((_amount(c.elements[4]) for c in txn.claims), ZERO)
    assert _amount(txn.bpr[2]) == claims_paid - sum((a for _, _, a in txn.plb), ZERO)
    for c in txn.claims:
        cas = sum((a for l in c.lines for _, _, a in l.cas), ZERO) + sum((a for _, _, a in c.claim_cas), ZERO)
        assert _amount(c.elements[3]) - _amount(c.elements[4]) == cas, c.elements
        assert _amount(c.elements[3]) == sum((l.billed for l in c.lines), ZERO)
        assert _amount(c.elements[5]) == sum((a for l in c.lines for g, _, a in l.cas if g == "PR"), ZERO)
        for l in c.lines:
            assert l.billed - l.paid == sum((a for _, _, a in l.cas), ZERO), l


# --------------------------------------------------------------------------- strategies

DELIMITERS = [("*", ":", "~", "\n"), ("*", ":", "~", ""), ("|", ">", "~", "\r\n"), ("*", ">", "\n", "")]
PRICED_CODES = [c.code for c in codebook.COMMON_CODES]


def price_table(payers: list[SynthPayer], factor: float) -> pl.DataFrame:
    """A contract price per payer/code/component/setting, like the demo derives from contracts."""
    rows = []
    for p_i, payer in enumerate(payers):
        for c_i, code in enumerate(codebook.COMMON_CODES):
            if (p_i + c_i) % 7 == 3:
                continue  # not every payer prices every code
            for mod in ["", "26", "TC"] if code.has_components else [""]:
                for facility in (False, True):
                    base = (
                        D(code.charge) * D(str(factor)) * (D("0.3") if mod == "26" else D("0.7") if mod == "TC" else 1)
                    )
                    if facility and not code.has_components:
                        base *= D("0.8")
                    rows.append((payer.payer_id, code.code, mod, facility, money(base)))
    return pl.DataFrame(
        rows,
        schema={
            "payer_id": pl.String,
            "procedure_code": pl.String,
            "modifier": pl.String,
            "facility": pl.Boolean,
            "unit_allowed": pl.Decimal(14, 2),
        },
        orient="row",
    )


@st.composite
def specs(draw, with_prices=None):
    payers = default_payers()
    if draw(st.booleans()):
        payers = payers[: draw(st.integers(1, 5))]
    priced = draw(st.booleans()) if with_prices is None else with_prices
    return SynthSpec(
        start=date(2025, draw(st.integers(1, 12)), 1),
        months=draw(st.integers(1, 2)),
        claims_per_month=draw(st.integers(1, 40)),
        max_lines_per_claim=draw(st.integers(1, 6)),
        seed=draw(st.integers(0, 2**31)),
        payers=payers,
        prices=price_table(payers, draw(st.sampled_from([0.35, 0.5, 0.62]))) if priced else None,
        underpay_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
        denial_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
        reversal_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
        secondary_rate=draw(st.sampled_from([0.0, 0.1])),
        plb_rate=draw(st.sampled_from([0.0, 0.5, 1.0])),
        facility_rate=draw(st.sampled_from([0.0, 0.3])),
        mppr_rate=draw(st.sampled_from([0.0, 0.0, 0.3])),
        delimiters=draw(st.sampled_from(DELIMITERS)),
    )


PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _read_all(result) -> dict[str, list[Txn]]:
    return {p.name: read_835(p.read_bytes()) for p in result.files}


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(spec=specs())
def test_files_are_valid_balanced_and_match_truth(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    result = write_remittances(spec, out)
    truth = result.truth
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in result.files)
    parsed = _read_all(result)
    lines_seen = 0
    for path in result.files:
        assert re.fullmatch(r"[A-Z0-9]+_\d{8}_\d+\.835", path.name)
        txns = parsed[path.name]
        assert len(txns) == 1, "one payment per file"
        txn = txns[0]
        check_balanced(txn)
        mine = truth.filter(pl.col("file_name") == path.name)
        payer_id = mine["payer_id"][0]
        assert txn.payer[4] == payer_id and txn.refs["PR:2U"] == payer_id
        assert txn.trn[2] == mine["trace_number"][0]
        payer = next(p for p in spec.payers if p.payer_id == payer_id)
        assert txn.trn[3] == "1" + payer.tin
        assert txn.bpr[16] == f"{mine['payment_date'][0]:%Y%m%d}"
        assert txn.payee[3:5] == ["XX", spec.payee.npi] and txn.refs["PE:TJ"] == spec.payee.tin
        lines = [l for c in txn.claims for l in c.lines]
        lines_seen += len(lines)
        assert len(lines) == mine.height
        assert sum((l.billed for l in lines), ZERO) == mine["billed"].sum()
        assert sum((l.paid for l in lines), ZERO) == mine["paid"].sum()
        assert [l.lcn for l in lines] == mine["line_control_number"].to_list()
        allowed_written = [l.allowed for l in lines if l.allowed is not None]
        assert allowed_written == mine.filter("allowed_written")["actual_allowed"].to_list()
        for c in txn.claims:
            assert c.elements[2] in {"1", "2", "4", "22"}
            assert c.elements[6] == ("MB" if payer.kind == "medicare" else c.elements[6])
            assert c.elements[6] in {"MB", "12", "HM"}
            assert c.elements[8] in {"11", "21", "22", "24"}
            assert c.names["QC"][9].startswith("SYN") and c.names["82"][8] == "XX"
            assert {"232", "233", "050"} <= set(c.dates)
        row = result.payments.filter(pl.col("file_name") == path.name).row(0, named=True)
        assert _amount(txn.bpr[2]) == row["total_paid"] >= 0
    assert lines_seen == truth.height
    unique = truth.select("trace_number", "claim_status", "line_control_number").unique()
    assert unique.height == truth.height, "(trace, status, line control number) identifies a line"


@PROPERTY
@given(spec=specs(with_prices=True))
def test_contract_prices_and_injected_underpayments(spec, tmp_path_factory):
    result = write_remittances(spec, tmp_path_factory.mktemp("priced"))
    truth = result.truth
    prices = {(r[0], r[1], r[2], r[3]): r[4] for r in spec.prices.iter_rows()}
    for row in truth.iter_rows(named=True):
        unit = prices[(row["payer_id"], row["procedure_code"], row["pricing_modifier"], row["facility"])]
        full = money(unit * row["units"])
        expected = money(full * D("0.5")) if (row["mppr_rank"] or 1) > 1 else full
        assert row["contract_allowed"] == expected
        sign = -1 if row["claim_status"] == "22" else 1
        assert sign * row["billed"] > full, "billed above allowed: lesser-of never bites"
        if row["injected"] is None:
            assert row["actual_allowed"] == row["contract_allowed"]
        elif row["injected"] == "underpaid":
            cut = row["underpaid_by"]
            assert cut >= D("5.00") and cut >= money(row["contract_allowed"] * D("0.04"))
            assert row["actual_allowed"] == row["contract_allowed"] - cut
        elif row["injected"] == "denied":
            assert row["actual_allowed"] == 0 and row["paid"] == 0 and row["carc"]
        elif row["injected"] == "secondary":
            assert row["claim_status"] == "2" and row["actual_allowed"] == row["contract_allowed"]
        if row["injected"] != "underpaid":
            assert row["underpaid_by"] == 0


@PROPERTY
@given(spec=specs(with_prices=False))
def test_claim_rules(spec, tmp_path_factory):
    result = write_remittances(spec, tmp_path_factory.mktemp("rules"))
    parsed = _read_all(result)
    truth = result.truth
    by_clp07: dict[str, list[tuple[str, Claim, date]]] = {}
    for name, (txn,) in parsed.items():
        pay = date.fromisoformat(f"{txn.bpr[16][:4]}-{txn.bpr[16][4:6]}-{txn.bpr[16][6:]}")
        kind = next(p.kind for p in spec.payers if p.payer_id == txn.payer[4])
        for c in txn.claims:
            by_clp07.setdefault(c.elements[7], []).append((name, c, pay))
            service = date.fromisoformat(f"{c.dates['232'][:4]}-{c.dates['232'][4:6]}-{c.dates['232'][6:]}")
            if c.elements[2] != "22" and not c.elements[7].endswith("R"):
                assert 10 <= (pay - service).days <= 40
            codes = [codebook.lookup(l.composite[1]) for l in c.lines]
            if spec.mppr_rate == 0:
                assert sum(x.multiple_procedure for x in codes) <= 1, "MPPR-free by default"
                assert all(l.units in ("1", "") for l, x in zip(c.lines, codes) if x.multiple_procedure)
            for l in c.lines:
                assert l.composite[0] == "HC" and l.date == c.dates["232"]
                if c.elements[2] in ("1", "22") and l.paid != 0 and kind == "medicare":
                    allowed = abs(l.billed) - abs(sum((a for g, r, a in l.cas if r == "45"), ZERO))
                    patient = abs(sum((a for g, _, a in l.cas if g == "PR"), ZERO))
                    coins = abs(sum((a for _, r, a in l.cas if r == "2"), ZERO))
                    deductible = abs(sum((a for _, r, a in l.cas if r == "1"), ZERO))
                    seq = abs(sum((a for _, r, a in l.cas if r == "253"), ZERO))
                    assert coins == money((allowed - deductible) * D("0.2"))
                    assert seq == money((allowed - patient) * D("0.02"))
    # reversals: negate an earlier claim with the same CLP07; the correction follows in the same file
    for clp07, seen in by_clp07.items():
        reversals = [s for s in seen if s[1].elements[2] == "22"]
        if not reversals:
            continue
        ((name, rev, pay),) = reversals
        ((orig_name, orig, orig_pay),) = [s for s in seen if s[1].elements[2] != "22"]
        assert orig_pay < pay
        assert [_amount(x) for x in rev.elements[3:6]] == [-_amount(x) for x in orig.elements[3:6]]
        assert [(l.lcn, -l.billed, -l.paid) for l in rev.lines] == [(l.lcn, l.billed, l.paid) for l in orig.lines]
        ((_, corrected, corr_pay),) = by_clp07[clp07 + "R"]
        assert corr_pay == pay and corrected.elements[1] == rev.elements[1]
    assert set(truth.filter(pl.col("claim_status") == "22")["injected"].to_list()) <= {"reversed"}
    # one payment per payer per week, on that payer's weekday
    per_week = Counter(
        (r["payer_id"], r["payment_date"].isocalendar()[:2]) for r in result.payments.iter_rows(named=True)
    )
    assert max(per_week.values(), default=1) == 1


# --------------------------------------------------------------------------- examples


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    spec = SynthSpec(claims_per_month=40, reversal_rate=0.1, plb_rate=0.5, seed=7)
    a = write_remittances(spec, tmp_path / "a")
    b = write_remittances(spec, tmp_path / "b")
    c = write_remittances(SynthSpec(claims_per_month=40, reversal_rate=0.1, plb_rate=0.5, seed=8), tmp_path / "c")
    assert [p.read_bytes() for p in a.files] == [p.read_bytes() for p in b.files]
    assert a.truth.equals(b.truth)
    assert [p.read_bytes() for p in a.files] != [p.read_bytes() for p in c.files]


def test_a_month_has_the_mix_the_demo_needs(tmp_path):
    result = write_remittances(
        SynthSpec(claims_per_month=600, secondary_rate=0.03, reversal_rate=0.02, plb_rate=0.5), tmp_path
    )
    truth = result.truth
    injected = Counter(truth["injected"].to_list())
    assert injected["underpaid"] > 10 and injected["denied"] > 10 and injected["reversed"] > 10
    assert injected["secondary"] > 5
    carcs = set(truth["carc"].drop_nulls().to_list())
    assert {"CO-97", "CO-16", "CO-50", "CO-29", "PR-204"} <= carcs
    assert set(truth["payer_id"].unique().to_list()) == {p.payer_id for p in default_payers()}
    assert truth.filter(~pl.col("allowed_written") & (pl.col("paid") != 0)).height > 0
    assert truth.filter(pl.col("facility")).height > 0
    assert {"26", "TC"} <= set(truth["pricing_modifier"].to_list())
    assert set(result.provider_adjustments["reason_code"].to_list()) >= {"L6", "WO"}
    assert (result.provider_adjustments.filter(pl.col("reason_code") == "L6")["amount"] < 0).all()
    assert (result.provider_adjustments.filter(pl.col("reason_code") == "WO")["amount"] > 0).all()
    assert truth["service_date"].min() >= date(2025, 1, 1) and truth["service_date"].max() < date(2025, 2, 1)


def test_codes_are_payable_in_the_2025_fee_schedule(cms_dir):
    rows = {}
    with open(cms_dir / "2025" / "PPRRVU25_JAN.csv", newline="") as f:
        for row in csv.reader(f):
            if row and row[1] == "" and row[0] in codebook.BY_CODE:
                rows[row[0]] = row
    for code in codebook.COMMON_CODES:
        row = rows[code.code]
        assert row[3] in {"A", "R", "T"}, code
        assert (row[13], row[18]) == (code.pctc, code.mult_proc), code


def test_reason_and_remark_codes_are_real(shared_dir, tmp_path):
    carc = {r["code"] for r in csv.DictReader(open(shared_dir / "reference" / "carc.csv"))}
    rarc = {r["code"] for r in csv.DictReader(open(shared_dir / "reference" / "rarc.csv"))}
    result = write_remittances(SynthSpec(claims_per_month=300, denial_rate=0.3, secondary_rate=0.05), tmp_path)
    reasons, remarks = set(), set()
    for path in result.files:
        for txn in read_835(path.read_bytes()):
            for c in txn.claims:
                for l in c.lines:
                    reasons |= {r for _, r, _ in l.cas}
                    remarks |= set(l.remarks)
    assert reasons and reasons <= carc
    assert remarks and remarks <= rarc


def test_amount_format():
    assert [x12_amount(D(x)) for x in ("150.00", "92.50", "0.00", "-12.34", "0.05")] == [
        "150",
        "92.5",
        "0",
        "-12.34",
        "0.05",
    ]
    assert money(D("2.005")) == D("2.01") and money("1.004") == D("1.00")


@pytest.mark.parametrize("single_st", [False, True])
def test_write_big(tmp_path, single_st):
    path = write_big(tmp_path / "big.835", 5000, seed=3, single_st=single_st, lines_per_transaction=700)
    txns = read_835(path.read_bytes())
    assert len(txns) == (1 if single_st else 8)
    n_lines = sum(len(c.lines) for t in txns for c in t.claims)
    assert 5000 <= n_lines < 5008
    for txn in txns:
        check_balanced(txn)
    pcns = [c.elements[1] for t in txns for c in t.claims]
    lcns = [l.lcn for t in txns for c in t.claims for l in c.lines]
    assert len(set(pcns)) == len(pcns) and len(set(lcns)) == len(lcns)
    assert any(t.plb for t in txns) or single_st
    assert (
        path.read_bytes()
        == write_big(tmp_path / "again.835", 5000, seed=3, single_st=single_st, lines_per_transaction=700).read_bytes()
    )


def test_the_reader_catches_unbalanced_and_miscounted_files(tmp_path):
    """The checks above can fail: a changed amount or a dropped segment is caught."""
    result = write_remittances(SynthSpec(claims_per_month=20, seed=4), tmp_path)
    data = max(result.files, key=lambda p: p.stat().st_size).read_bytes()
    check_balanced(read_835(data)[0])
    text = data.decode()
    svc = re.search(r"SVC\*[^*]+\*[\d.]+\*([\d.]+)", text)
    changed = text[: svc.start(1)] + str(D(svc.group(1)) + D("0.01")) + text[svc.end(1) :]
    with pytest.raises(AssertionError):
        check_balanced(read_835(changed.encode())[0])
    dropped = re.sub(r"DTM\*472\*\d+~\n", "", text, count=1)
    with pytest.raises(AssertionError, match="SE01"):
        read_835(dropped.encode())


def test_an_independent_5010_reader_accepts_the_files(tmp_path):
    """x12sdk (an independent reader, in the `test` extra) validates every element against the
    005010X221A1 models."""
    x12sdk_io = pytest.importorskip("x12sdk.io", reason="pip install -e '.[test]' for the external check")
    result = write_remittances(
        SynthSpec(
            claims_per_month=150,
            denial_rate=0.2,
            reversal_rate=0.05,
            secondary_rate=0.05,
            plb_rate=0.5,
            facility_rate=0.3,
            mppr_rate=0.1,
        ),
        tmp_path / "era",
    )
    files = [*result.files, write_big(tmp_path / "big.835", 1500, seed=2, lines_per_transaction=400)]
    for path in files:
        with x12sdk_io.X12ModelReader(str(path)) as reader:
            got = [
                (c.patient_control_number, str(c.status.value if hasattr(c.status, "value") else c.status))
                for model in reader.models()
                for c in model.claims()
            ]
        ours = [(c.elements[1], c.elements[2]) for t in read_835(path.read_bytes()) for c in t.claims]
        assert got == ours, path.name


def test_schedule_codes_are_in_their_2025_cms_files(shared_dir):
    """Each lab, drug and supply code of the demo is listed by the CMS file of its schedule (January 2025)."""
    extra = shared_dir / "cms" / "extra"

    def first_cells(path, header_first):
        rows = list(csv.reader(open(path, newline="", encoding="latin-1")))
        start = next(i for i, r in enumerate(rows) if r and r[0].strip().upper() == header_first)
        return rows[start], rows[start + 1 :]

    header, rows = first_cells(extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv", "YEAR")
    lab = {r[1] for r in rows if r and r[2] == ""}
    _, rows = first_cells(
        extra / "asp" / "2025" / "section 508 version of Jan 2025 ASP Pricing File updated 030725.csv", "HCPCS CODE"
    )
    drug = {r[0].strip() for r in rows if r}
    header, rows = first_cells(extra / "dmepos" / "2025" / "DMEPOS_JAN.csv", "HCPCS")
    supply = {(r[0], r[1]) for r in rows if r and r[2] == ""}
    for code in codebook.SCHEDULE_CODES:
        if code.category == "lab":
            assert code.code in lab, code
        elif code.category == "drug":
            assert code.code in drug, code
        else:
            assert (code.code, code.bill_modifier) in supply, code
        assert code.charge >= 30 and code.max_units == 1 and code.code not in {c.code for c in codebook.COMMON_CODES}
