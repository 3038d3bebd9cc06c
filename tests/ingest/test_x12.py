"""Tokenizer and parser on varied layouts: delimiters, line ends, BOM, envelopes, numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.scan import tokenize
from pipelines.ingest.tables import parse_835


def isa(el="*", comp=":", rep="^", ctrl=1, pad=0):
    sender = "SENDER".ljust(15 + pad)[: 15 + pad]
    f = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        sender,
        "ZZ",
        "RECEIVER".ljust(15),
        "250101",
        "1200",
        rep,
        "00501",
        f"{ctrl:09d}",
        "0",
        "P",
        comp,
    ]
    return el.join(f)


def build(claims, *, el="*", comp=":", term="~", after="", indent="", bom=False, pad=0, bare=False, transactions=1):
    """An 835 text with ``claims`` = [(charge, paid, [(code, mods, charge, paid, units)])] per transaction."""
    segs = (
        []
        if bare
        else [isa(el, comp, pad=pad), el.join(["GS", "HP", "S", "R", "20250101", "1200", "1", "X", "005010X221A1"])]
    )
    n_claim = 0
    for t in range(1, transactions + 1):
        body = []
        total = sum(Decimal(c[1]) for c in claims)
        body.append(
            el.join(["BPR", "I", f"{total}", "C", "ACH", "CCP", "", "", "", "", "", "", "", "", "", "", "20250105"])
        )
        body.append(el.join(["TRN", "1", f"T{t}", "1999999999"]))
        body.append(el.join(["N1", "PR", "PAYER"]))
        body.append(el.join(["N1", "PE", "PAYEE", "XX", "1234567893"]))
        body.append(el.join(["LX", "1"]))
        for charge, paid, lines in claims:
            n_claim += 1
            body.append(el.join(["CLP", f"P{n_claim}", "1", charge, paid, "", "12", f"ICN{n_claim}", "11"]))
            for code, mods, lc, lp, units in lines:
                body.append(el.join(["SVC", comp.join(["HC", code, *mods]), lc, lp, "", units]))
                diff = Decimal(lc) - Decimal(lp)
                if diff:
                    body.append(el.join(["CAS", "CO", "45", f"{diff}"]))
        seg = [el.join(["ST", "835", f"{t:04d}"])] + body
        seg.append(el.join(["SE", str(len(seg) + 1), f"{t:04d}"]))
        segs += seg
    if not bare:
        segs += [el.join(["GE", str(transactions), "1"]), el.join(["IEA", "1", "000000001"])]
    text = "".join(indent + s + term + after for s in segs)
    data = text.encode("latin-1")
    return (b"\xef\xbb\xbf" + data) if bom else data


money = st.decimals(min_value=0, max_value=99999, places=2).map(lambda d: f"{d:.2f}")
line = st.tuples(
    st.sampled_from(["99213", "99214", "85025", "J3490", "G0439"]),
    st.lists(st.sampled_from(["25", "59", "LT", "RT", "TC", "26"]), max_size=4),
    money,
    money,
    st.sampled_from(["1", "2", "1.5", "0.25"]),
)
claim = st.lists(line, min_size=0, max_size=4).map(
    lambda ls: (f"{sum(Decimal(x[2]) for x in ls):.2f}", f"{sum(Decimal(x[3]) for x in ls):.2f}", ls)
)
layout = st.fixed_dictionaries(
    {
        "el": st.sampled_from(["*", "|"]),
        "comp": st.sampled_from([":", ">", "^"]),
        "term": st.sampled_from(["~", "'"]),
        "after": st.sampled_from(["", "\n", "\r\n"]),
        "indent": st.sampled_from(["", "  "]),
        "bom": st.booleans(),
        "pad": st.sampled_from([0, -1, 2]),
        "transactions": st.integers(1, 3),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=st.lists(claim, min_size=1, max_size=5), style=layout)
def test_roundtrip_counts_and_sums(claims, style):
    data = build(claims, **style)
    p = parse_835(data, "gen.835")
    t = style["transactions"]
    n_lines = sum(len(c[2]) for c in claims)
    assert (p.transactions, p.claims.height, p.service_lines.height) == (t, len(claims) * t, n_lines * t)
    assert p.claims["paid"].sum() == sum(Decimal(c[1]) for c in claims) * t
    if n_lines:
        assert p.service_lines["paid"].sum() == sum(Decimal(x[3]) for c in claims for x in c[2]) * t
        mods = [m for c in claims for x in c[2] for m in [x[1]]] * t
        assert [m or [] for m in p.service_lines["modifiers"].to_list()] == mods
    assert not [i for i in p.issues["rule"].to_list() if i.startswith(("se_", "ge_", "iea_"))]


def test_delimiters_found_by_scanning_short_and_padded_isa():
    for pad in (-3, 0, 4):
        s = tokenize(build([("10.00", "10.00", [])], pad=pad), "x")
        assert (s.delimiters.element, s.delimiters.component, s.delimiters.segment) == ("*", ":", "~")
        assert any("not 106" in t for t in s.tolerated) == (pad != 0)


def test_newline_terminator_with_stray_tilde_prefix():
    data = build([("10.00", "5.00", [("99213", [], "10.00", "5.00", "1")])], el="|", comp="^", term="\n", indent="~")
    s = tokenize(data, "x")
    assert s.delimiters.segment == "\n"
    assert s.frame["tag"][:3].to_list() == ["ISA", "GS", "ST"]
    assert any("stray '~'" in t for t in s.tolerated)


def test_bare_st_without_envelope_infers_delimiters():
    data = build([("10.00", "5.00", [("99213", ["25"], "10.00", "5.00", "1")])], bare=True, comp=">")
    p = parse_835(data, "x")
    assert p.interchanges == 0 and p.transactions == 1
    assert p.service_lines["modifiers"].to_list() == [["25"]]
    assert any("no ISA/GS envelope" in t for t in p.tolerated)


def test_segment_numbers_count_every_segment_from_isa():
    data = build([("10.00", "5.00", [("99213", [], "10.00", "5.00", "1")])], after="\n")
    s = tokenize(data, "x")
    assert s.frame["seg_no"][0] == 1 and s.frame["tag"][0] == "ISA"
    p = parse_835(data, "x")
    # ISA, GS, ST, BPR, TRN, N1, N1, LX, CLP -> CLP is segment 9, SVC 10, CAS 11
    assert p.claims["segment_number"].to_list() == [9]
    assert p.service_lines["segment_number"].to_list() == [10]
    assert p.adjustments["segment_number"].to_list() == [11]


@pytest.mark.parametrize(
    "value,ok",
    [
        ("12.5", True),
        ("-3", True),
        (".75", True),
        ("10.000", True),
        ("10.001", False),
        ("1,000.00", False),
        ("12a", False),
        ("", True),
    ],
)
def test_money_exactness(value, ok):
    data = build([("10.00", "10.00", [])]).replace(b"CLP*P1*1*10.00*10.00", f"CLP*P1*1*10.00*{value}".encode())
    if ok:
        p = parse_835(data, "x")
        got = p.claims["paid"][0]
        assert got == (Decimal(value) if value else None)
    else:
        with pytest.raises(Exception, match="unparseable number in CLP04"):
            parse_835(data, "x")


def test_several_interchanges_in_one_file():
    one = build([("10.00", "10.00", [])])
    p = parse_835(one + b"\n" + one.replace(b"T1", b"T2"), "x")
    assert (p.interchanges, p.transactions, p.claims.height) == (2, 2, 2)
    assert p.payments["trace_number"].to_list() == ["T1", "T2"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=st.lists(claim, min_size=1, max_size=5), style=layout, chunk=st.integers(1, 300), block=st.integers(1, 40)
)
def test_scanning_in_pieces_on_two_threads_finds_the_same_segments(claims, style, chunk, block):
    """The scan finds terminators a chunk of bytes at a time and trims / codes segments a block at a
    time, a big file's pieces shared by two threads: wherever chunks and blocks end (CR/LF,
    indentation, stray '~'), the segments are the same as with one piece on one thread."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.ingest import scan as x12

    data = build(claims, **style)
    whole = x12.scan(data, "x")
    assert len(data) < x12.SCAN_CHUNK_BYTES and len(whole) < x12.BLOCK_SEGMENTS  # the reference: one piece
    with ThreadPoolExecutor(max_workers=1) as pool:
        halves = x12.scan(data, "x", pool=pool, chunk_bytes=chunk, block_segments=block)
    assert (halves.starts == whole.starts).all() and (halves.ends == whole.ends).all()
    assert (halves.code == whole.code).all() and halves.tolerated == whole.tolerated
    assert halves.texts().to_list() == whole.texts().to_list()


@given(st.lists(st.tuples(st.booleans(), st.integers(-5, 1000)), max_size=200))
def test_carry_repeats_the_last_marked_value(rows):
    """_carry (claim and line keys of every segment): each row gets the value of the last marked
    row at or before it, 0 before the first; checked against a plain loop."""
    import numpy as np

    from pipelines.ingest.segments import _carry

    marker = np.array([m for m, _ in rows], dtype=bool)
    value = np.array([v for _, v in rows], dtype=np.int32)
    expected, current = [], 0
    for m, v in rows:
        current = v if m else current
        expected.append(current)
    assert _carry(marker, value).tolist() == expected
