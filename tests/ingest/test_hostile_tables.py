"""Hostile 835 content that parses: nothing is dropped without a word, no file value (PHI) is
quoted in an issue, and no shape of transaction crashes the table builders (issue 12: items 2, 5,
9, 10, 12). Each test loads real 835 bytes through ``ingest_paths`` into a DuckDB warehouse file.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.money import LINE_AMOUNT_CEILING
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.tables import parse_835

_ISA = "ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*PROVRECEIVER   *250110*1200*^*00501*{ctl:09d}*0*P*:"
_GS = "GS*HP*PAYERSENDER*PROVRECEIVER*20250110*1200*{ctl}*X*005010X221A1"
# segment 1 ISA, 2 GS, 3 ST, 4 BPR, 5 TRN, 6 N1*PR, 7 N1*PE, 8 LX, 9 CLP, 10 NM1, 11 SVC, 12 DTM, 13 CAS, 14 AMT
BPR = "BPR*I*100.00*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20250110"
BODY = [
    BPR,
    "TRN*1*TRACE0001*1512345678",
    "N1*PR*ACME HEALTH",
    "N1*PE*CLINIC*XX*1234567893",
    "LX*1",
    "CLP*PCN001*1*150.00*100.00**12*ICN0001*11*1",
    "NM1*QC*1*PATEL*JANE****MI*MEM001",
    "SVC*HC:99213*150.00*100.00**1",
    "DTM*472*20250102",
    "CAS*CO*45*50.00",
    "AMT*B6*100.00",
]


def era(*transactions: list[str], ctl: int = 101) -> bytes:
    """An 835 interchange of the given transaction bodies (BPR .. last segment before SE), with
    correct ST/SE/GE/IEA counts and control numbers."""
    segs = [_ISA.format(ctl=ctl), _GS.format(ctl=ctl)]
    for i, body in enumerate(transactions, 1):
        txn = [f"ST*835*{i:04d}", *body]
        segs += [*txn, f"SE*{len(txn) + 1}*{i:04d}"]
    segs += [f"GE*{len(transactions)}*{ctl}", f"IEA*1*{ctl:09d}"]
    return ("~".join(segs) + "~\n").encode()


def body(**replace: str) -> list[str]:
    """BODY with segments replaced by their tag (first of that tag): ``body(SVC="SVC*...")``."""
    out = list(BODY)
    for tag, seg in replace.items():
        i = next(i for i, s in enumerate(out) if s.split("*", 1)[0] == tag)
        out[i] = seg
    return out


def load(tmp_path: Path, *files: bytes):
    """Load each file (in order) into one warehouse file; the outcomes and an open connection."""
    paths = []
    for i, data in enumerate(files):
        p = tmp_path / f"f{i}.835"
        p.write_bytes(data)
        paths.append(p)
    db = tmp_path / "w.duckdb"
    outcomes = [ingest_paths([p], db).files[0] for p in paths]
    return outcomes, duckdb.connect(str(db), read_only=True)


def issues(con, rule: str) -> list[tuple]:
    return con.execute(
        "SELECT segment_number, severity, payment_id, claim_id, line_id, actual, message"
        " FROM validation_issues WHERE rule = ? ORDER BY segment_number",
        [rule],
    ).fetchall()


def no_value_in(rows, *values: str) -> None:
    """None of ``values`` (file text that may be PHI) appears in any issue text."""
    for row in rows:
        for text in row:
            for v in values:
                assert v not in str(text), (v, row)


# ----------------------------------------------------------------------------- item 5: invalid dates


@pytest.mark.parametrize("bad", ["20250231", "99999999", "00000000", "20251345"])
@pytest.mark.parametrize(
    ("where", "segment"),
    [
        ("BPR16", 4),
        ("DTM*472", 12),
        ("DTM*232", 11),
        ("DTM*405", 6),
        ("DTM*036", 11),
        ("PLB02", 15),
    ],
)
def test_an_invalid_date_is_a_validation_issue_on_its_segment(tmp_path, bad, where, segment):
    b = list(BODY)
    if where == "BPR16":
        b[0] = BPR.replace("*20250110", f"*{bad}")
    elif where == "DTM*472":
        b[8] = f"DTM*472*{bad}"
    elif where in ("DTM*232", "DTM*036"):  # a claim date (036: not a mapped qualifier)
        b.insert(7, f"{where}*{bad}")
    elif where == "DTM*405":  # header production date, after TRN
        b.insert(2, f"DTM*405*{bad}")
    else:
        b.append(f"PLB*1234567893*{bad}*WO:X1*0.00")
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and out.claims == 1 and out.lines == 1
    found = issues(con, "invalid_date")
    assert [(r[0], r[1]) for r in found] == [(segment, "error")]
    assert found[0][2] is not None  # the payment is named
    if where in ("DTM*472",):
        assert found[0][3] is not None and found[0][4] is not None  # claim and line too
    no_value_in(found, bad)


def test_valid_and_empty_dates_are_not_issues(tmp_path):
    b = list(BODY)
    b.insert(7, "DTM*232*20240229")  # leap day
    b.insert(8, "DTM*233")  # empty DTM02: not a date sent, nothing to say here
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded"
    assert issues(con, "invalid_date") == []
    assert con.execute("SELECT statement_from FROM claims").fetchall() == [(date(2024, 2, 29),)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_a_line_date_is_an_issue_exactly_when_it_is_no_calendar_date(digits):
    try:
        valid = date(int(digits[:4]), int(digits[4:6]), int(digits[6:])) is not None
    except ValueError:  # includes year 0000, which Python cannot hold
        valid = False
    era_ = parse_835(era(body(DTM=f"DTM*472*{digits}")), "x.835")
    flagged = era_.issues.filter(era_.issues["rule"] == "invalid_date")
    assert flagged.height == (0 if valid else 1)
    assert flagged["segment_number"].to_list() == ([] if valid else [12])
    assert era_.service_lines.select(pl.col("service_date").is_not_null()).item() == valid


@pytest.mark.parametrize("where", ["BPR16", "DTM*472", "DTM*232"])
def test_year_zero_is_no_date(tmp_path, where):
    """00000101 parses as year 0, which DuckDB stores and Python cannot read back (a report fetching
    the row would crash): it is an invalid date, stored as NULL."""
    b = list(BODY)
    if where == "BPR16":
        b[0] = BPR.replace("*20250110", "*00000101")
    elif where == "DTM*472":
        b[8] = "DTM*472*00000101"
    else:
        b.insert(7, "DTM*232*00000101")
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and len(issues(con, "invalid_date")) == 1
    assert con.execute("SELECT payment_date FROM payments").fetchall()[0][0] == (
        None if where == "BPR16" else date(2025, 1, 10)
    )
    assert con.execute("SELECT statement_from FROM claims").fetchall() == [(None,)]
    assert con.execute("SELECT service_date FROM service_lines").fetchall()[0][0] == (
        None if where == "DTM*472" else date(2025, 1, 2)
    )


# ----------------------------------------------------------------------------- item 10: nothing dropped silently


def test_a_second_bpr_is_an_issue_and_the_first_is_loaded(tmp_path):
    b = list(BODY)
    b.insert(1, BPR.replace("100.00", "999.00"))  # segment 5
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and out.paid == Decimal("100.00")
    assert [(r[0], r[1]) for r in issues(con, "extra_bpr")] == [(5, "error")]


def test_a_cas_before_the_first_clp_is_an_issue(tmp_path):
    b = list(BODY)
    b.insert(5, "CAS*CO*45*10.00")  # after LX, before CLP: segment 9
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and out.claims == 1
    assert [(r[0], r[1]) for r in issues(con, "cas_outside_claim")] == [(9, "error")]
    assert con.execute("SELECT count(*) FROM adjustments").fetchall() == [(1,)]


def test_a_stray_cas_alone_does_not_crash(tmp_path):
    b = BODY[:5] + ["CAS*CO*45*10.00", "CLP*PCN001*4*0.00*0.00**12*ICN0001*11*1"]
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and out.claims == 1
    assert len(issues(con, "cas_outside_claim")) == 1


def test_a_transaction_without_trn_is_an_issue(tmp_path):
    b = [s for s in BODY if not s.startswith("TRN")]
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded"
    assert [(r[0], r[1]) for r in issues(con, "missing_trn")] == [(3, "warning")]


def test_header_nm1_payer_and_payee_are_stored(tmp_path):
    b = [
        BPR,
        "TRN*1*TRACE0001*1512345678",
        "NM1*PR*2*ACME HEALTH*****PI*ACME1",
        "N3*1 PAYER WAY",
        "N4*HARTFORD*CT*06101",
        "NM1*PE*2*CLINIC*****XX*1234567893",
        "N3*350 FIFTH AVENUE",
        *BODY[4:],
    ]
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded"
    row = con.execute(
        "SELECT payer_name, payer_id_qualifier, payer_n1_id, payer_id, payer_address, payer_city,"
        " payee_name, payee_id_qualifier, payee_id, payee_npi, payee_address,"
        " payer_nm1_name, payer_nm1_id, payee_nm1_name, payee_nm1_id FROM payments"
    ).fetchall()
    assert row == [
        (
            "ACME HEALTH",
            "PI",
            "ACME1",
            "ACME1",
            "1 PAYER WAY",
            "HARTFORD",
            "CLINIC",
            "XX",
            "1234567893",
            "1234567893",
            "350 FIFTH AVENUE",
            "ACME HEALTH",
            "ACME1",
            "CLINIC",
            "1234567893",
        )
    ]


def test_n1_wins_over_a_header_nm1(tmp_path):
    b = [*BODY[:3], "NM1*PR*2*OTHER NAME*****PI*OTHER", *BODY[3:]]
    (out,), con = load(tmp_path, era(b))
    assert con.execute("SELECT payer_name, payer_nm1_name, payer_nm1_id FROM payments").fetchall() == [
        ("ACME HEALTH", "OTHER NAME", "OTHER")
    ]


# ----------------------------------------------------------------------------- item 12: re-sent payments


def test_same_trace_payer_amount_but_other_claims_is_loaded_with_a_warning(tmp_path):
    first = era(body(BPR=BPR.replace("100.00", "0.00"), CLP="CLP*PCN001*4*150.00*0.00**12*ICN0001*11*1"))
    other = era(body(BPR=BPR.replace("100.00", "0.00"), CLP="CLP*PCN777*4*150.00*0.00**12*ICN0777*11*1"), ctl=202)
    (a, b), con = load(tmp_path, first, other)
    assert a.status == b.status == "loaded"
    assert b.resent_payments == 0 and b.claims == 1 and b.lines == 1
    assert con.execute("SELECT count(*) FROM payments WHERE resent_of_payment_id IS NULL").fetchall() == [(2,)]
    found = issues(con, "reused_trace_number")
    assert len(found) == 1 and found[0][1] == "warning" and found[0][5] == "1"  # actual = the earlier payment
    assert issues(con, "resent_payment") == []
    no_value_in(found, "TRACE0001", "PCN777")


def test_same_claims_in_another_order_is_a_resend(tmp_path):
    two = [
        *BODY,
        "CLP*PCN002*4*80.00*0.00**12*ICN0002*11*1",
        "CAS*CO*29*80.00",
    ]
    swapped = [*BODY[:5], "CLP*PCN002*4*80.00*0.00**12*ICN0002*11*1", "CAS*CO*29*80.00", *BODY[5:]]
    (a, b), con = load(tmp_path, era(two), era(swapped, ctl=202))
    assert b.resent_payments == 1 and b.claims == 0
    assert con.execute("SELECT count(*) FROM claims").fetchall() == [(2,)]
    found = issues(con, "resent_payment")
    assert len(found) == 1
    no_value_in(found, "TRACE0001")


def test_claims_compared_as_a_multiset(tmp_path):
    """A, A is not A, B: the count of each claim matters."""
    clp_b = "CLP*PCN002*4*0.00*0.00**12*ICN0002*11*1"
    clp_a = "CLP*PCN001*4*0.00*0.00**12*ICN0001*11*1"
    bpr0 = BPR.replace("100.00", "0.00")
    (a, b), con = load(
        tmp_path,
        era([bpr0, *BODY[1:5], clp_a, clp_b]),
        era([bpr0, *BODY[1:5], clp_a, clp_a], ctl=202),
    )
    assert b.resent_payments == 0 and b.claims == 2
    assert len(issues(con, "reused_trace_number")) == 1


def test_a_repeat_inside_one_file_quotes_no_trace_number(tmp_path):
    (out,), con = load(tmp_path, era(BODY, BODY))
    assert out.status == "loaded" and out.claims == 2
    found = issues(con, "repeated_payment")
    assert len(found) == 1
    no_value_in(found, "TRACE0001")


# ----------------------------------------------------------------------------- item 2: implausible amounts


@pytest.mark.parametrize(
    ("svc", "amt", "columns"),
    [
        (f"SVC*HC:99213*{LINE_AMOUNT_CEILING}*100.00**1", "AMT*B6*100.00", {"charge"}),
        ("SVC*HC:99213*150.00*100.00**1", "AMT*B6*10000000.00", {"allowed"}),
        ("SVC*HC:99213*999999999999.99*-999999999999.99**1", "AMT*B6*100.00", {"charge", "paid"}),
        ("SVC*HC:99213*9999999.99*100.00**1", "AMT*B6*9999999.99", set()),
    ],
)
def test_an_implausible_line_amount_is_an_issue(tmp_path, svc, amt, columns):
    (out,), con = load(tmp_path, era(body(SVC=svc, AMT=amt)))
    assert out.status == "loaded" and out.lines == 1
    found = con.execute(
        "SELECT segment_number, line_id, expected, message FROM validation_issues WHERE rule = 'implausible_amount'"
        " AND line_id IS NOT NULL"
    ).fetchall()
    assert {r[0] for r in found} <= {11}
    assert len(found) == len(columns)
    assert {re.search(r"\((charge|paid|allowed)\)", r[3]).group(1) for r in found} == columns


def test_implausible_claim_amounts_and_sums_beyond_the_column_do_not_crash(tmp_path):
    big = "999999999999.99"
    b = [
        BPR.replace("100.00", big),
        *BODY[1:5],
        f"CLP*A*1*{big}*{big}**12*I1*11*1",
        f"CLP*B*1*{big}*{big}**12*I2*11*1",
    ]
    (out,), con = load(tmp_path, era(b))
    assert out.status == "loaded" and out.claims == 2
    found = con.execute(
        "SELECT count(*) FROM validation_issues WHERE rule = 'implausible_amount' AND claim_id IS NOT NULL"
    ).fetchall()
    assert found == [(4,)]  # CLP03 and CLP04 of each claim
    assert len(issues(con, "balance_transaction")) == 1  # BPR02 vs two claims' sum (beyond DECIMAL(14,2))


# ----------------------------------------------------------------------------- items 6, 7, 9: PHI and crashes


def test_a_code_set_failure_does_not_quote_the_value(tmp_path):
    (out,), con = load(tmp_path, era(body(CAS="CAS*PATEL*45*50.00")))
    assert out.status == "loaded"
    found = con.execute(
        "SELECT actual, message, expected FROM validation_issues WHERE rule = 'adjustments.group_code:isin'"
    ).fetchall()
    assert len(found) == 1 and "5-character" in found[0][0]
    no_value_in(found, "PATEL")


def test_a_transaction_of_only_bpr_loads_as_a_payment_without_claims(tmp_path):
    (out,), con = load(tmp_path, era([BPR]))
    assert out.status == "loaded" and out.payments == 1 and out.claims == 0
    assert len(issues(con, "missing_trn")) == 1


@pytest.mark.parametrize(
    ("segs", "segment", "words"),
    [
        ([*BODY, "PLB*1234567893*20251231"], 15, "PLB"),
        ([*BODY[:5], "SVC*HC:99213*10.00*10.00**1", *BODY[5:]], 9, "SVC"),
        ([BPR.replace("*100.00*", "**"), *BODY[1:]], 4, "BPR02"),
    ],
)
def test_structural_faults_are_clean_rejections(tmp_path, segs, segment, words):
    (out,), con = load(tmp_path, era(segs))
    assert out.status == "rejected" and out.error_segment == segment
    assert words in out.reason and "could not be read" not in out.reason
    assert con.execute("SELECT count(*) FROM payments").fetchall() == [(0,)]


@pytest.mark.parametrize("amount", ["１５０.00", "١٥٠.00"])
def test_unicode_digits_in_an_amount_are_a_clean_rejection(tmp_path, amount):
    (out,), _ = load(tmp_path, era(body(SVC=f"SVC*HC:99213*{amount}*100.00**1")))
    assert out.status == "rejected" and out.error_segment == 11
    assert "could not be read" not in out.reason and amount not in out.reason
