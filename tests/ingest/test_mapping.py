"""The 835 mapping (pipelines.ingest.mapping) is well formed, drives the frame builders, and says
what the frames hold: every direct column is checked against its element, read from the file's
bytes by a deliberately naive reader (split on the delimiters, walk the loops), not the parser."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.core.errors import X12Error
from pipelines.ingest import mapping
from pipelines.ingest.mapping import DTYPES, FIELDS, LOOPS, TAKES, field, fields
from pipelines.ingest.tables import parse_835
from tests.conftest import ERA_SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TABLES = mapping.TABLES


# ----------------------------------------------------------------------------- the declaration


def test_fields_are_well_formed():
    seen = set()
    for f in FIELDS:
        assert (f.table, f.column) not in seen, f
        seen.add((f.table, f.column))
        assert f.table in TABLES and f.loop in LOOPS and f.type in DTYPES and f.take in TAKES, f
        if f.qualifier:
            assert f.qualifier.startswith(f"{f.segment}*") and f.code, f
        if f.element:
            assert all(e.startswith(f.segment) for e in f.element.split("+")), f
        if not f.derived:
            assert f.element and f.segment, f"{f.table}.{f.column} is neither mapped nor derived"
        if f.type in ("money", "qty", "rate") and not f.derived:
            assert f.name.startswith(f.element) or f.element in f.name, f  # errors name the element
        if f.repeat:
            assert f.take == "each", f
    for table in TABLES:
        cols = mapping.columns(table)
        assert len(cols) == len(set(cols))
        assert cols[0] in mapping.KEYS


def test_an_auditor_finds_clp04_in_one_place():
    f = field("claims", "paid")
    assert (f.segment, f.loop, f.element, f.type, f.name) == ("CLP", "2100", "CLP04", "money", "CLP04 claim payment")
    assert f.source() == "e04" and not f.derived
    assert field("service_lines", "procedure_code").element == "SVC01-2"
    assert field("service_lines", "allowed").qualifier == "AMT*B6"
    assert field("claims", "statement_from").qualifier == "DTM*232"
    assert field("payments", "payer_id").rule.startswith("REF*2U")


def test_repeated_elements_step_through_the_triplets():
    amount, reason = field("adjustments", "amount"), field("adjustments", "reason_code")
    assert [amount.split_column(i) for i in range(6)] == ["e03", "e06", "e09", "e12", "e15", "e18"]
    assert [reason.source(i) for i in (0, 5)] == ["e02", "e17"]
    assert amount.label(1) == "CAS06 adjustment amount"
    plb = field("provider_adjustments", "reason_code")
    assert (plb.split_column(0), plb.split_column(2), plb.source(2)) == ("e03", "e07", "reason_code")
    assert field("provider_adjustments", "amount").label(5) == "PLB14 adjustment amount"


def test_components_of_a_composite():
    assert mapping.component("service_lines", "SVC01", 7) == (
        "qualifier",
        "procedure_code",
        "modifier_1",
        "modifier_2",
        "modifier_3",
        "modifier_4",
        "description",
    )
    assert mapping.component("service_lines", "SVC06", 7)[:3] == (
        "original_qualifier",
        "original_procedure_code",
        "_svc06_3",
    )
    assert mapping.sources(field("service_lines", "modifiers")) == [
        "modifier_1",
        "modifier_2",
        "modifier_3",
        "modifier_4",
    ]
    assert mapping.sources(field("claims", "mia_remarks")) == ["e05", "e20", "e21", "e22", "e23"]


def test_nulls_are_typed_by_the_mapping():
    frame = pl.select(mapping.nulls(fields("claims", "MOA")))
    assert frame.schema == {
        "moa_remarks": pl.List(pl.String),
        "moa_reimbursement_rate": pl.Decimal(12, 4),
        "moa_payable_amount": pl.Decimal(14, 2),
    }
    assert frame.row(0) == (None, None, None)


# ----------------------------------------------------------------------------- the mapping drives the builders


def _remap(monkeypatch, table, column, **changes):
    """Swap one mapping row (clearing the lookups' caches before and after)."""
    rows = tuple(dataclasses.replace(f, **changes) if (f.table, f.column) == (table, column) else f for f in FIELDS)
    for fn in (mapping.fields, mapping.columns, mapping.component):
        fn.cache_clear()
    monkeypatch.setattr(mapping, "FIELDS", rows)


@pytest.fixture()
def clean_caches():
    yield
    for fn in (mapping.fields, mapping.columns, mapping.component):
        fn.cache_clear()


def test_changing_a_row_changes_the_frame(monkeypatch, clean_caches):
    path = next(p for p in sorted(FIXTURES.glob("*.835")) if _loads(p))
    data = path.read_bytes()
    before = parse_835(data, path).claims
    assert before["paid"].to_list() != before["charge"].to_list()
    _remap(monkeypatch, "claims", "paid", element="CLP03", name="CLP03 as paid")
    after = parse_835(data, path).claims
    assert after["paid"].to_list() == before["charge"].to_list()
    assert after.columns == before.columns


def test_error_messages_use_the_mapped_name(monkeypatch, clean_caches):
    path = FIXTURES / "bad_amount.835"
    with pytest.raises(X12Error, match="CLP04 claim payment"):
        parse_835(path.read_bytes(), path)
    _remap(monkeypatch, "claims", "paid", name="CLP04 the amount paid")
    with pytest.raises(X12Error, match="CLP04 the amount paid"):
        parse_835(path.read_bytes(), path)


def _loads(path) -> bool:
    try:
        parse_835(path.read_bytes(), path)
        return True
    except X12Error:
        return False


# ----------------------------------------------------------------------------- the frames hold what the mapping says


class Naive:
    """The file's segments as lists of elements, numbered like the parser (ISA = 1)."""

    def __init__(self, data: bytes, delimiters):
        text = data.decode("latin-1")
        self.el, self.comp = delimiters.element, delimiters.component
        text = text.replace("\ufeff", "").replace("\xef\xbb\xbf", "")
        # stray '~' after a line-break terminator: seen in the wild, skipped by the parser too
        self.segs = [s.strip("\r\n ").lstrip("~").split(self.el) for s in text.split(delimiters.segment)]
        self.segs = [s for s in self.segs if s != [""]]

    def seg(self, number: int) -> list[str]:
        return self.segs[number - 1]

    def loop(self, number: int, stops: tuple[str, ...]) -> list[list[str]]:
        """Segments after ``number`` up to the next one whose tag is in ``stops``."""
        out = []
        for s in self.segs[number:]:
            if s[0] in stops:
                break
            out.append(s)
        return out


def _element(seg: list[str], f, i: int, comp: str):
    """Element ``f`` (its i-th repeat) of ``seg``, as the mapping's type says."""
    base, _, part = f.element.partition("-")
    pos = int(base[len(f.segment) :]) + i * f.repeat
    raw = seg[pos] if pos < len(seg) else ""
    if part:
        comps = raw.split(comp)
        raw = comps[int(part) - 1] if int(part) <= len(comps) else ""
    if raw == "":
        return Decimal(f.default) if f.default is not None else None
    if f.type in ("money", "qty", "rate"):
        return Decimal(raw)
    if f.type == "date":
        try:
            return datetime.strptime(raw, "%Y%m%d").date()
        except ValueError:
            return None
    return raw


def _list(seg, f, comp):
    vals = []
    for one in f.element.split("+"):
        g = dataclasses.replace(f, element=one, type="string", default=None)
        v = _element(seg, g, 0, comp)
        if v is not None:
            vals.append(v)
    return vals or None


def _first(segs, f):
    for s in segs:
        if s[0] == f.segment and (not f.code or f.segment == "N1" or (len(s) > 1 and s[1] == f.code)):
            return s
    return None


def _expected(naive: Naive, f, segs_of_loop, own_seg, i: int = 0):
    """What column ``f`` should hold for a row whose own segment is ``own_seg`` and whose loop
    (the segments after it) is ``segs_of_loop``."""
    if f.segment == own_seg[0] and f.qualifier is None:
        seg = own_seg
    elif f.take == "list" and f.qualifier:
        tagged = [s for s in segs_of_loop if s[0] == f.segment]
        # grouped over the loop's segments of that tag: [] when they have another qualifier only
        # (the loader's conform() stores an empty list as NULL)
        return [s[2] for s in tagged if len(s) > 2 and s[1] == f.code and s[2]] if tagged else None
    else:
        seg = _first(segs_of_loop, f)
        if seg is None:
            return None
    if f.type == "list":
        return _list(seg, f, naive.comp)
    return _element(seg, f, i, naive.comp)


def _party_segments(header: list[list[str]], loop: str) -> list[list[str]]:
    party = mapping.PARTY[loop]
    out, current = [], ""
    for s in header:
        if s[0] == "N1":
            current = s[1] if len(s) > 1 else ""
        if current == party:
            out.append(s)
    return out


CLAIM_STOPS = ("CLP", "LX", "SE", "PLB", "SVC")
LINE_STOPS = ("SVC", "CLP", "LX", "SE", "PLB")


def check_frames(data: bytes, path) -> int:
    """Assert each frame's columns, types and every direct column's values; return values checked."""
    era = parse_835(data, path)
    checked = 0
    for table in TABLES:
        frame = getattr(era, table)
        if frame.width == 0:
            continue
        assert tuple(frame.columns) == mapping.columns(table), table
        assert [frame.schema[c] for c in frame.columns] == [f.dtype for f in fields(table)], table
    naive = Naive(data, era.delimiters)
    if len(naive.segs) != era.segments:
        return checked  # the naive split does not see the file as the parser does: only shapes checked
    if any("composites use" in t for t in era.tolerated):
        return checked

    def rows(table):
        frame = getattr(era, table)
        return frame.iter_rows(named=True) if frame.width else []

    for r in rows("payments"):
        header = naive.loop(r["segment_number"], ("LX", "CLP", "SE", "PLB"))
        for f in fields("payments", derived=False):
            if f.loop == "envelope":
                continue
            if f.segment in ("ST",):
                want = _element(naive.seg(r["segment_number"]), f, 0, naive.comp)
            elif f.segment in ("BPR", "TRN"):
                want = _expected(naive, f, header, ["--"])
            else:
                segs = _party_segments(header, f.loop)
                want = _expected(naive, f, segs, ["--"])
            assert r[f.column] == want, (path, f.column, r["segment_number"])
            checked += 1
    for r in rows("claims"):
        own = naive.seg(r["segment_number"])
        loop = naive.loop(r["segment_number"], CLAIM_STOPS)
        for f in fields("claims", derived=False):
            if f.segment == "LX":
                continue
            if f.qualifier and f.take == "first" and f.segment == "REF":
                want = next((s[2] for s in loop if s[0] == "REF" and s[1] == f.code and len(s) > 2), None)
            else:
                want = _expected(naive, f, loop, own)
            assert r[f.column] == want, (path, f.column, r["segment_number"])
            checked += 1
    for r in rows("service_lines"):
        own = naive.seg(r["segment_number"])
        loop = naive.loop(r["segment_number"], LINE_STOPS)
        for f in fields("service_lines"):
            if not f.element or (f.derived and f.segment != "SVC") or f.column == "original_composite":
                continue  # other_amounts, refs, dates: rules in code (tested in test_x12)
            want = _expected(naive, f, loop, own)
            assert r[f.column] == want, (path, f.column, r["segment_number"])
            checked += 1
    for table, index in (("adjustments", "triplet_index"), ("provider_adjustments", "pair_index")):
        for r in rows(table):
            own = naive.seg(r["segment_number"])
            for f in fields(table, derived=False):
                assert r[f.column] == _element(own, f, r[index] - 1, naive.comp), (path, f.column, r)
                checked += 1
    return checked


# fixtures that are rejected whole (their reasons are tested in test_rejections)
REJECTED_FIXTURES = {"bad_amount.835", "bad_decimals.835", "claim_837.835", "garbage_no_isa.835", "truncated.835"}


@pytest.mark.parametrize(
    "path", [p for p in sorted(FIXTURES.glob("*.835")) if p.name not in REJECTED_FIXTURES], ids=lambda p: p.name
)
def test_fixture_frames_follow_the_mapping(path):
    assert _loads(path), f"{path.name} no longer loads"
    check_frames(path.read_bytes(), path)


def test_the_rejected_fixtures_are_rejected():
    assert {p.name for p in FIXTURES.glob("*.835") if not _loads(p)} == REJECTED_FIXTURES


def test_sample_frames_follow_the_mapping():
    if not ERA_SAMPLES.is_dir():
        pytest.skip(f"{ERA_SAMPLES} absent: the third-party sample 835s are not checked")
    checked = loaded = 0
    for path in sorted(ERA_SAMPLES.glob("*.835")):
        if _loads(path):
            loaded += 1
            checked += check_frames(path.read_bytes(), path)
    assert loaded > 20 and checked > 1000


def test_synthetic_frames_follow_the_mapping(tmp_path):
    from pipelines.synthetic.writer import SynthSpec, write_big, write_remittances

    result = write_remittances(SynthSpec(claims_per_month=40, plb_rate=0.5, secondary_rate=0.1), tmp_path / "r")
    checked = sum(check_frames(p.read_bytes(), p) for p in result.files)
    big = write_big(tmp_path / "big.835", 300, seed=1, delimiters=("|", ">", "\n", ""))
    checked += check_frames(big.read_bytes(), big)
    assert checked > 5000
    era = parse_835(big.read_bytes(), big)
    assert era.service_lines.height >= 300 and era.service_lines["paid"].dtype == pl.Decimal(14, 2)
    assert isinstance(era.claims["statement_from"].drop_nulls()[0], date)


def test_docs_show_the_mapping():
    """docs/warehouse.md's generated section is the mapping as it is (regenerate it with
    ``mapping.markdown()`` after changing a row)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "warehouse.md").read_text()
    section = doc.split("<!-- mapping:begin -->\n", 1)[1].split("<!-- mapping:end -->", 1)[0]
    assert section == mapping.markdown()
