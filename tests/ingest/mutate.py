"""A seeded 835 mutator and a plain reader, for the fuzz test (tests/ingest/test_fuzz.py).

The mutator damages a valid 835 the way real inboxes do (cut-off transfers, editors, mail
gateways, copy-paste, hostile names); the plain reader is deliberately independent of
``pipelines.ingest``: it splits a file by the delimiters its first ISA declares and adds up the
handful of figures the fuzz test compares with the warehouse. Same seed, same mutants.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

# ----------------------------------------------------------------------------- plain reader

WHITESPACE = b" \t\r\n"
AMOUNT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Delimiters:
    element: bytes
    component: bytes
    terminator: bytes


def _start(data: bytes) -> int:
    """Where the X12 text begins: after a UTF-8 byte order mark, whitespace, NULs or a stray terminator."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    return len(data) - len(data[bom:].lstrip(b" \t\r\n\x00~"))


def delimiters(data: bytes) -> Delimiters | None:
    """The delimiters the first ISA declares: ISA's 4th byte separates elements, the byte after
    the 16th separator is the component separator (ISA16) and the next one ends the segment.
    Counting separators rather than fixed offsets also reads an ISA with short fields. A bare
    ST..SE (no envelope): ST's 3rd byte separates elements, the first other punctuation ends
    the segment."""
    start = _start(data)
    if data[start : start + 2] == b"ST" and len(data) > start + 3:
        element = data[start + 2 : start + 3]
        rest = data[start + 3 :]
        ends = [
            i
            for i in range(min(len(rest), 200))
            if not rest[i : i + 1].isalnum() and rest[i : i + 1] not in (element, b" ")
        ]
        return Delimiters(element, b":", rest[ends[0] : ends[0] + 1]) if ends else None
    if data[start : start + 3] != b"ISA" or len(data) < start + 4:
        return None
    element = data[start + 3 : start + 4]
    pos = start + 3
    for _ in range(15):
        pos = data.find(element, pos + 1)
        if pos < 0:
            return None
    if len(data) < pos + 3:
        return None
    return Delimiters(element, data[pos + 1 : pos + 2], data[pos + 2 : pos + 3])


def segments(data: bytes, d: Delimiters) -> list[list[bytes]]:
    """Every non-blank segment as its list of elements (whitespace around segments dropped, and
    a '~' before a segment when segments end with a line break)."""
    strip = WHITESPACE + (b"~" if d.terminator in (b"\r", b"\n") and b"~" not in (d.element, d.component) else b"")
    out = []
    for raw in data[_start(data) :].split(d.terminator):
        seg = raw.strip(WHITESPACE).lstrip(strip)
        if seg:
            out.append(seg.split(d.element))
    return out


def amount(elements: list[bytes], index: int) -> Decimal | None:
    """Element ``index`` as a Decimal; 0 when absent or empty; None when it is not an X12 number."""
    if len(elements) <= index or not elements[index].strip():
        return Decimal(0)
    text = elements[index].decode("latin-1").strip()
    return Decimal(text) if AMOUNT.match(text) else None


@dataclass
class PlainPayment:
    """One ST..SE as the plain reader sees it."""

    paid: Decimal | None = Decimal(0)  # BPR02, negative when BPR03 = D
    claims: int = 0  # CLP segments
    lines: int = 0  # SVC segments
    claims_paid: Decimal | None = Decimal(0)  # sum of CLP04
    lines_paid: Decimal | None = Decimal(0)  # sum of SVC03
    unreadable: list[str] = field(default_factory=list)  # amounts that are not numbers


def _add(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    return None if total is None or value is None else total + value


def read_plain(data: bytes) -> list[PlainPayment] | None:
    """Per transaction: signed BPR02, CLP and SVC counts, sums of CLP04 and SVC03 (None: no ISA)."""
    d = delimiters(data)
    if d is None:
        return None
    out: list[PlainPayment] = []
    current: PlainPayment | None = None
    for n, elements in enumerate(segments(data, d), 1):
        tag = elements[0]
        if tag == b"ST":
            current = PlainPayment()
            out.append(current)
        elif current is None:
            continue
        elif tag == b"BPR":
            paid = amount(elements, 2)
            debit = len(elements) > 3 and elements[3] == b"D"
            current.paid = None if paid is None else (-paid if debit else paid)
            if paid is None:
                current.unreadable.append(f"BPR02 of segment {n}")
        elif tag == b"CLP":
            current.claims += 1
            value = amount(elements, 4)
            current.claims_paid = _add(current.claims_paid, value)
            if value is None:
                current.unreadable.append(f"CLP04 of segment {n}")
        elif tag == b"SVC":
            current.lines += 1
            value = amount(elements, 3)
            current.lines_paid = _add(current.lines_paid, value)
            if value is None:
                current.unreadable.append(f"SVC03 of segment {n}")
    return out


# ----------------------------------------------------------------------------- mutations

# text a hostile or careless payer may put in a name element
INJECTIONS = (
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "+1+1",
    "@SUM(1+1)",
    "-2+3",
    '=HYPERLINK("http://x.example","y")',
    "\tTAB",
    "</td><img src=x onerror=alert(1)>",
    "{{ 7*7 }}",
    "'; DROP TABLE claims; --",
)
# bytes a delimiter may be swapped for: ASCII punctuation, letters and digits, control
# bytes, single non-ASCII bytes (latin-1), and multi-byte UTF-8
OTHER_BYTES = (
    b"|",
    b"^",
    b"!",
    b"'",
    b"\n",
    b"\x1c",
    b"\x00",
    b"A",
    b"0",
    b" ",
    b"\x85",
    b"\xa7",
    b"\xff",
    "§".encode(),
    "€".encode(),
    "\u2028".encode(),
    "🙂".encode(),
)


@dataclass(frozen=True)
class Mutant:
    source: str  # file name of the valid input
    mutation: str  # what was done, precise enough to redo by hand
    data: bytes


def _segment_spans(data: bytes, d: Delimiters) -> list[tuple[int, int]]:
    """(start, end) of every segment including its terminator (and the whitespace after it)."""
    spans, pos = [], 0
    while pos < len(data):
        end = data.find(d.terminator, pos)
        end = len(data) if end < 0 else end + len(d.terminator)
        while end < len(data) and data[end : end + 1] in (b"\r", b"\n"):
            end += 1
        spans.append((pos, end))
        pos = end
    return spans


def _describe(data: bytes, start: int, end: int) -> str:
    seg = data[start:end].strip(WHITESPACE)
    return seg[:3].decode("latin-1").rstrip("*|^~:>")


def truncate(rng: random.Random, data: bytes, d: Delimiters) -> tuple[str, bytes]:
    cut = rng.randrange(0, len(data))
    return f"truncate at byte {cut} of {len(data)}", data[:cut]


def delete_segment(rng, data, d):
    spans = _segment_spans(data, d)
    i = rng.randrange(len(spans))
    a, b = spans[i]
    return f"delete segment {i + 1} ({_describe(data, a, b)})", data[:a] + data[b:]


def delete_bytes(rng, data, d):
    a = rng.randrange(len(data))
    n = rng.choice((1, 1, 2, 3, 5, 8, 20, 64))
    return f"delete bytes {a}..{a + n}", data[:a] + data[a + n :]


def merge_segments(rng, data, d):
    """Drop one segment terminator: the segment runs on into the next (a lost '~')."""
    spans = _segment_spans(data, d)
    i = rng.randrange(max(1, len(spans) - 1))
    a, b = spans[i]
    end = data.rfind(d.terminator, a, b)
    if end < 0:
        return delete_bytes(rng, data, d)
    rest = data[end + len(d.terminator) :].lstrip(b"\r\n")
    return f"drop the terminator of segment {i + 1} ({_describe(data, a, b)})", data[:end] + rest


def duplicate_segment(rng, data, d):
    spans = _segment_spans(data, d)
    i = rng.randrange(len(spans))
    a, b = spans[i]
    times = rng.choice((1, 1, 2))
    return (
        f"duplicate segment {i + 1} ({_describe(data, a, b)}) x{times}",
        data[:b] + data[a:b] * times + data[b:],
    )


def flip_bytes(rng, data, d):
    out = bytearray(data)
    done = []
    for _ in range(rng.choice((1, 1, 2, 4))):
        i = rng.randrange(len(out))
        if rng.random() < 0.5:
            out[i] ^= 1 << rng.randrange(8)
        else:
            out[i] = rng.randrange(256)
        done.append(f"{i}->{out[i]:#04x}")
    return f"flip bytes {', '.join(done)}", bytes(out)


def _other(rng: random.Random, d: Delimiters) -> bytes:
    return rng.choice([b for b in OTHER_BYTES if b not in (d.element, d.component, d.terminator)])


def swap_delimiters(rng, data, d):
    """Swap two delimiters everywhere, or replace one everywhere (ISA included) by another byte."""
    names = {"terminator": d.terminator, "element": d.element, "component": d.component}
    kind = rng.choice(("swap", "replace", "replace", "replace_body"))
    if kind == "swap":
        a, b = rng.sample(sorted(names), 2)
        x, y = names[a], names[b]
        out = data.replace(x, b"\x00SWAP\x00").replace(y, x).replace(b"\x00SWAP\x00", y)
        return f"swap {a} {x!r} and {b} {y!r} everywhere", out
    name = rng.choice(sorted(names))
    old, new = names[name], _other(rng, d)
    if kind == "replace":
        return f"replace {name} {old!r} by {new!r} everywhere", data.replace(old, new)
    # the body uses another byte than the one the ISA declares
    isa_end = data.find(d.terminator) + len(d.terminator)
    body = data[isa_end:].replace(old, new)
    return f"replace {name} {old!r} by {new!r} after the ISA only", data[:isa_end] + body


# digits that str.isdigit() and Decimal() accept but X12 does not: fullwidth, Arabic-Indic, math bold
UNICODE_ZEROS = ("\uff10", "\u0660", "\U0001d7ce")


def unicode_digit(rng, data, d):
    """Replace an ASCII digit after the ISA by the same digit of another script (a copy-paste)."""
    isa_end = data.find(d.terminator) + 1
    digits = [i for i in range(isa_end, len(data)) if 48 <= data[i] <= 57]
    if not digits:
        return flip_bytes(rng, data, d)
    i = rng.choice(digits)
    new = chr(ord(rng.choice(UNICODE_ZEROS)) + data[i] - 48).encode()
    return f"replace digit at byte {i} by {new!r}", data[:i] + new + data[i + 1 :]


# amount elements by segment tag (0-based element index, the tag is element 0)
AMOUNT_ELEMENTS = {b"BPR": (2,), b"CLP": (3, 4, 5), b"SVC": (2, 3), b"CAS": (3, 6), b"AMT": (2,), b"PLB": (4,)}
# what a payer's system may write for an amount: out of DECIMAL(14,2) range, zero-padded, odd forms
ODD_AMOUNTS = (
    b"999999999999.99",
    b"9999999999999.99",
    b"99999999999999999999",
    b"000000000000000",
    b"0000000000000150",
    b"-0",
    b".5",
    b"5.",
    b"1,000.00",
    b"150.999",
    b"-",
    b"",
)


def odd_amount(rng, data, d):
    """Replace one amount element (BPR02, CLP03-05, SVC02-03, CAS03, AMT02, PLB04) by an odd value."""
    spans = [
        (a, b, tag)
        for a, b in _segment_spans(data, d)
        if (tag := data[a:b].strip(WHITESPACE).split(d.element, 1)[0]) in AMOUNT_ELEMENTS
    ]
    if not spans:
        return flip_bytes(rng, data, d)
    a, b, tag = rng.choice(spans)
    seg = data[a:b]
    end = seg.find(d.terminator)
    elements = seg[:end].split(d.element)
    index = rng.choice(AMOUNT_ELEMENTS[tag])
    while len(elements) <= index:
        elements.append(b"")
    value = rng.choice(ODD_AMOUNTS)
    elements[index] = value
    new = d.element.join(elements) + seg[end:]
    return f"set {tag.decode()}{index:02d} to {value!r}", data[:a] + new + data[b:]


def hard_wrap(rng, data, d):
    width = rng.choice((64, 72, 80, 132))
    newline = rng.choice((b"\n", b"\r\n"))
    out = newline.join(data[i : i + width] for i in range(0, len(data), width))
    return f"hard wrap every {width} bytes with {newline!r}", out


def inject_name(rng, data, d):
    """Put hostile text into a name element (NM1 03/04, N1 02)."""
    spans = _segment_spans(data, d)
    named = [
        (a, b) for a, b in spans if data[a:b].strip(WHITESPACE).startswith((b"NM1" + d.element, b"N1" + d.element))
    ]
    if not named:
        return delete_segment(rng, data, d)
    a, b = rng.choice(named)
    seg = data[a:b]
    end = seg.find(d.terminator)
    elements = seg[:end].split(d.element)
    index = 2 if elements[0].strip(WHITESPACE) == b"N1" else rng.choice((3, 4))
    while len(elements) <= index:
        elements.append(b"")
    text = rng.choice(INJECTIONS).encode()
    for delim in (d.element, d.component, d.terminator):
        text = text.replace(delim, b"")
    elements[index] = text
    new = d.element.join(elements) + seg[end:]
    return f"inject {text!r} into {_describe(data, a, b)} element {index:02d}", data[:a] + new + data[b:]


MUTATIONS: dict[str, Callable] = {
    "truncate": truncate,
    "delete_segment": delete_segment,
    "delete_bytes": delete_bytes,
    "merge_segments": merge_segments,
    "duplicate_segment": duplicate_segment,
    "flip_bytes": flip_bytes,
    "swap_delimiters": swap_delimiters,
    "unicode_digit": unicode_digit,
    "odd_amount": odd_amount,
    "hard_wrap": hard_wrap,
    "inject_name": inject_name,
}


def mutate(rng: random.Random, name: str, data: bytes, *, stack: int = 1) -> Mutant:
    """``stack`` mutations of ``data`` (each chosen by ``rng``), described in order."""
    steps = []
    for _ in range(stack):
        d = delimiters(data) or Delimiters(b"*", b":", b"~")
        if not data:
            break
        kind = rng.choice(sorted(MUTATIONS))
        what, data = MUTATIONS[kind](rng, data, d)
        steps.append(what)
    return Mutant(name, "; then ".join(steps), data)


def retrace(data: bytes, suffix: str) -> bytes:
    """Append ``suffix`` to every TRN02, so that the payments of one mutant are not re-sends of
    another mutant's (same TRN02, payer and BPR02): the loader would flag them and not load
    their claims, leaving less to compare."""
    d = delimiters(data)
    if d is None:
        return data
    out = []
    for a, b in _segment_spans(data, d):
        seg = data[a:b]
        lead = len(seg) - len(seg.lstrip(WHITESPACE))
        if seg[lead:].startswith(b"TRN" + d.element):
            end = seg.find(d.terminator)
            elements = seg[:end].split(d.element)
            if len(elements) > 2:
                elements[2] += suffix.encode()
                seg = d.element.join(elements) + seg[end:]
        out.append(seg)
    return b"".join(out)
