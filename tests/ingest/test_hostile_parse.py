"""Hostile bytes at the front of the parser (issue 12): delimiters that are not ASCII, values that
could be PHI in rejection reasons, internal parser errors, zero-padded amounts and hard-wrapped
files. Every case is real 835 bytes (the good fixture, mutated) ingested into a real DuckDB file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.errors import X12Error
from pipelines.core.schema import ensure_schema
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.tables import parse_835
from tests.ingest.conftest import FIXTURES, table_counts

GOOD = (FIXTURES / "good_5010.835").read_bytes()
NAMES = ("PATEL", "DOE", "JANE", "ROE", "RICHARD", "MEM001", "MEM002")


@pytest.fixture()
def db(tmp_path):
    """A fresh warehouse file."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(con)
    yield con
    con.close()


def ingest(db, tmp_path: Path, data: bytes, name: str = "era.835"):
    """Ingest ``data`` as one file; returns its outcome."""
    path = tmp_path / name
    path.write_bytes(data)
    (outcome,) = ingest_paths([path], db).files
    return outcome


def assert_rejected_whole(db, outcome, segment: int | None, *phrases: str) -> str:
    """The file was rejected by a clean X12Error (not an unexpected-error fallback), nothing of it
    loaded, and its reason names the segment and says ``phrases``."""
    assert outcome.status == "rejected", outcome
    reason = outcome.reason or ""
    assert "could not be read" not in reason and "maintainers" not in reason, reason
    if segment is not None:
        assert outcome.error_segment == segment, reason
    for phrase in phrases:
        assert phrase in reason, reason
    counts = table_counts(db)
    assert all(n == 0 for t, n in counts.items() if t != "era_files"), counts
    (stored,) = db.execute("SELECT reason FROM era_files").fetchall()[0]
    assert stored == reason
    return reason


def assert_no_phi(text: str) -> None:
    for name in NAMES:
        assert name not in text, (name, text)


# ----------------------------------------------------------------------------- 1. delimiters not ASCII

ISA_END = b"*P*:~"  # ISA15, ISA16 (component) and the terminator of the good fixture


def with_delimiter(which: str, ch: bytes) -> bytes:
    """The good file with one delimiter replaced by ``ch`` (bytes: one character, maybe several bytes)."""
    if which == "element":
        return GOOD.replace(b"*", ch)
    if which == "component":
        return GOOD.replace(ISA_END, b"*P*" + ch + b"~").replace(b"HC:", b"HC" + ch)
    if which == "segment":
        return GOOD.replace(b"~", ch)
    assert which == "repetition"
    return GOOD.replace(b"*^*", b"*" + ch + b"*")


CASES = [
    ("element", "é".encode(), "element separator", "2-byte UTF-8 character"),
    ("element", "§".encode(), "element separator", "2-byte UTF-8 character"),
    ("element", b"\xa7", "element separator", "not an ASCII character"),
    ("component", "é".encode(), "component separator", "2-byte UTF-8 character"),
    ("component", b"\xb6", "component separator", "not an ASCII character"),
    ("segment", "€".encode(), "segment terminator", "3-byte UTF-8 character"),
    ("segment", b"\xa7", "segment terminator", "not an ASCII character"),
    ("segment", "é".encode(), "segment terminator", "2-byte UTF-8 character"),
    ("repetition", "é".encode(), "repetition separator", "2-byte UTF-8 character"),
    ("repetition", b"\xa7", "repetition separator", "not an ASCII character"),
]


@pytest.mark.parametrize("which,ch,what,kind", CASES, ids=[f"{c[0]}-{c[1]!r}" for c in CASES])
def test_non_ascii_delimiter_is_rejected_at_the_isa(db, tmp_path, which, ch, what, kind):
    data = with_delimiter(which, ch)
    with pytest.raises(X12Error) as err:
        parse_835(data, "era.835")
    assert err.value.segment == 1
    reason = assert_rejected_whole(db, ingest(db, tmp_path, data), 1, what, kind, "single ASCII characters")
    assert "truncated" not in reason and "expected IEA" not in reason


@pytest.mark.parametrize("ch", ["é".encode(), "§".encode(), b"\xa7"])
def test_non_ascii_separator_of_a_bare_transaction_is_rejected(db, tmp_path, ch):
    data = GOOD[GOOD.index(b"ST*") : GOOD.index(b"GE*")].replace(b"*", ch)
    assert_rejected_whole(db, ingest(db, tmp_path, data), 1, "element separator", "ASCII")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["element", "component", "segment", "repetition"]),
    ch=st.one_of(
        st.characters(min_codepoint=0x80, exclude_categories=("Cs",)).map(lambda c: c.encode("utf-8")),
        st.integers(0x80, 0xFF).map(lambda b: bytes([b])),
    ),
)
def test_any_non_ascii_delimiter_is_a_clean_rejection_at_segment_1(which, ch):
    with pytest.raises(X12Error, match="ASCII") as err:
        parse_835(with_delimiter(which, ch), "era.835")
    assert err.value.segment == 1


def test_ascii_delimiters_still_load(db, tmp_path):
    data = GOOD.replace(b"*", b"|").replace(b"~", b"!")
    outcome = ingest(db, tmp_path, data)
    assert outcome.status == "loaded", outcome.reason
    assert outcome.claims == 2


# ----------------------------------------------------------------------------- 2. no PHI in reasons

LOST_TERMINATOR = GOOD.replace(b"*1~\nNM1*QC*1*DOE", b"*1NM1*QC*1*PATEL")  # CLP's terminator lost


def test_a_lost_terminator_does_not_put_the_patient_name_in_the_reason(db, tmp_path):
    with pytest.raises(X12Error) as err:
        parse_835(LOST_TERMINATOR, "era.835")
    assert_no_phi(str(err.value))
    reason = assert_rejected_whole(db, ingest(db, tmp_path, LOST_TERMINATOR), 16, "CLP12", "5-character value")
    assert_no_phi(reason)


@pytest.mark.parametrize(
    "old,new,segment,phrase",
    [
        (b"CLP*PCN001*1*300.00", b"CLP*PCN001*1*PATEL", 16, "CLP03"),  # a name where an amount belongs
        (b"SVC*HC:99213:25*200.00*150.00**1", b"SVC*HC:99213:25*200.00*150.00**MEM001", 20, "SVC05"),
        (b"BPR*I*245.00", b"BPR*I*JANE", 4, "BPR02"),
        (b"ST*835*0001", b"ST*PATEL*0001", 3, "not an 835 remittance"),
    ],
)
def test_values_that_may_be_phi_are_described_not_quoted(db, tmp_path, old, new, segment, phrase):
    data = GOOD.replace(old, new)
    reason = assert_rejected_whole(db, ingest(db, tmp_path, data), segment, phrase)
    assert_no_phi(reason)


def test_a_file_that_is_not_x12_is_not_echoed(db, tmp_path):
    data = b"PATEL,JANE,MEM001\nROE,RICHARD,MEM002\n"
    reason = assert_rejected_whole(db, ingest(db, tmp_path, data), 1, "does not begin with an ISA header")
    assert_no_phi(reason)


def test_a_terminator_inside_a_name_does_not_leak_the_name_into_issues(db, tmp_path):
    data = GOOD.replace(b"NM1*QC*1*DOE*JANE", b"NM1*QC*1*DO~PATEL*JANE")  # 'PATEL*JANE...' looks like a segment
    outcome = ingest(db, tmp_path, data)
    assert outcome.status == "loaded", outcome.reason
    rows = db.execute("SELECT coalesce(message, '') || '|' || coalesce(actual, '') FROM validation_issues").fetchall()
    assert rows
    for (text,) in rows:
        assert "PATEL" not in text, text


# ----------------------------------------------------------------------------- 3. parser errors are clean


@pytest.mark.parametrize(
    "digits",
    ["\u0663\u0660\u0660.00", "\uff13\uff10\uff10.00", "\u0969\u0966\u0966.00"],  # Arabic-Indic, fullwidth, Devanagari
    ids=["arabic-indic", "fullwidth", "devanagari"],
)
def test_unicode_digits_in_an_amount_are_not_a_number(db, tmp_path, digits):
    data = GOOD.replace(b"CLP*PCN001*1*300.00", b"CLP*PCN001*1*" + digits.encode())
    with pytest.raises(X12Error, match="unparseable number in CLP03") as err:
        parse_835(data, "era.835")
    assert err.value.segment == 16
    assert_rejected_whole(db, ingest(db, tmp_path, data), 16, "CLP03", "not ASCII digits")


def test_a_unicode_zero_is_not_a_trailing_decimal_zero(db, tmp_path):
    data = GOOD.replace(b"CAS*CO*45*20.00~", "CAS*CO*45*20.00\u0660~".encode())
    assert_rejected_whole(db, ingest(db, tmp_path, data), 22, "CAS03")


# These two crashed in pipelines/ingest/tables.py (pl.concat of no frames); fixed there (H2).


def test_a_transaction_of_only_st_bpr_se_is_not_an_internal_error(db, tmp_path):
    data = GOOD[: GOOD.index(b"TRN*")] + b"SE*3*0001~\nGE*1*101~\nIEA*1*000000101~\n"
    outcome = ingest(db, tmp_path, data)
    assert "could not be read" not in (outcome.reason or ""), outcome.reason


def test_a_plb_without_pairs_is_not_an_internal_error(db, tmp_path):
    data = GOOD.replace(b"PLB*1234567893*20251231*WO:OVERPAY01*-45.00~", b"PLB*1234567893*20251231~")
    outcome = ingest(db, tmp_path, data)
    assert "could not be read" not in (outcome.reason or ""), outcome.reason


# ----------------------------------------------------------------------------- 4. zero padding, hard wraps


def test_zero_padded_amounts_load(db, tmp_path):
    data = GOOD.replace(b"CAS*CO*45*20.00~", b"CAS*CO*45*0000000000000020~").replace(
        b"CAS*CO*29*80.00~", b"CAS*CO*29*80.00**45*000000000000000~"
    )
    outcome = ingest(db, tmp_path, data)
    assert outcome.status == "loaded", outcome.reason
    amounts = db.execute(
        "SELECT segment_number, triplet_index, amount FROM adjustments WHERE segment_number IN (22, 34) ORDER BY 1, 2"
    ).fetchall()
    assert amounts == [(22, 1, Decimal("20.00")), (34, 1, Decimal("80.00")), (34, 2, Decimal("0.00"))]


@settings(max_examples=40, deadline=None)
@given(zeros=st.integers(0, 30), negative=st.booleans(), decimals=st.sampled_from(["", ".0", ".00", ".000000"]))
def test_leading_zeros_count_toward_no_limit(zeros, negative, decimals):
    amount = ("-" if negative else "") + "0" * zeros + "150" + decimals
    data = GOOD.replace(b"CAS*CO*45*20.00~", b"CAS*CO*45*20.00**45*" + amount.encode() + b"~")
    parsed = parse_835(data, "era.835")
    adj = parsed.adjustments.filter(parsed.adjustments["segment_number"] == 22)
    assert adj["amount"].to_list() == [Decimal("20.00"), Decimal("-150.00") if negative else Decimal("150.00")]


def test_thirteen_significant_integer_digits_are_still_too_many(db, tmp_path):
    data = GOOD.replace(b"CAS*CO*45*20.00~", b"CAS*CO*45*0001234567890123~")
    assert_rejected_whole(db, ingest(db, tmp_path, data), 22, "CAS03")


def hard_wrapped(width: int, line_end: bytes = b"\n") -> bytes:
    flat = GOOD.replace(b"\n", b"")
    return line_end.join(flat[i : i + width] for i in range(0, len(flat), width)) + line_end


def test_a_hard_wrapped_file_is_named_as_such(db, tmp_path):
    reason = assert_rejected_whole(
        db,
        ingest(db, tmp_path, hard_wrapped(80)),
        1,
        "hard-wrapped at 80 characters",
        "segment 1 (ISA)",
        "ISA10",  # 'ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*PROVRECEIVER   *250110*120' + LF
        "character 80",
        "unwrapped",
    )
    assert_no_phi(reason)


@settings(max_examples=30, deadline=None)
@given(width=st.integers(20, 400), crlf=st.booleans())
def test_any_wrap_width_is_reported_at_the_first_broken_segment(width, crlf):
    data = hard_wrapped(width, b"\r\n" if crlf else b"\n")
    flat = GOOD.replace(b"\n", b"")
    # the segment holding the first break that does not fall right after a terminator
    cut = next((i for i in range(width, len(flat), width) if flat[i - 1 : i] != b"~"), None)
    if cut is None:
        parse_835(data, "era.835")  # every break falls after a terminator: an ordinary file
        return
    with pytest.raises(X12Error, match=f"hard-wrapped at {width} characters") as err:
        parse_835(data, "era.835")
    assert err.value.segment == flat[:cut].count(b"~") + 1
    assert_no_phi(str(err.value))


def test_line_breaks_after_terminators_are_not_a_wrap(db, tmp_path):
    assert ingest(db, tmp_path, (FIXTURES / "crlf_indented_latin1.835").read_bytes()).status == "loaded"
