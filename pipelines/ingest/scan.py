"""X12 tokenizer: bytes -> one columnar frame of segments (no Python object per segment).

The delimiters come from the ISA header, found by scanning its 16 element separators
(so a short or padded ISA works), or, for a bare ST..SE fragment, are inferred from the
first segments. Segment boundaries are located with numpy on the raw bytes and handed to
Arrow as offsets, so the only per-segment work is vectorized (polars strips whitespace,
stray terminators and indentation from every segment at once).

``tokenize`` returns :class:`Segments`: a polars frame with one row per segment
(``seg_no`` 1-based, ISA = 1; ``tag``; ``text`` = the segment without its terminator),
the delimiters, and the irregularities that were tolerated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.core.errors import SEGMENT_IDS, X12Error, shown

if TYPE_CHECKING:  # polars is imported where it is used: a scan starts before polars is loaded
    import polars as pl

# polars and pyarrow are imported where segment text is made, not here: scanning needs numpy only,
# so an ingest can start reading and scanning its first file while they load (see pipelines.ingest.read).

BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    segment: str
    repetition: str | None = None

    def describe(self) -> str:
        seg = {"\n": "\\n", "\r": "\\r"}.get(self.segment, self.segment)
        return f"element {self.element!r}, component {self.component!r}, segment {seg!r}"


@dataclass
class Segments:
    path: str
    frame: pl.DataFrame | None  # seg_no (Int32), code (Int32), tag (Enum), text (str)
    delimiters: Delimiters
    enveloped: bool  # False for a bare ST..SE fragment
    tolerated: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return 0 if self.frame is None else self.frame.height


_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (unzip it and ingest the 835 inside)"),
    (b"\x1f\x8b", "a gzip file (unzip it and ingest the 835 inside)"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"\xff\xfe", "UTF-16 text (save it as ASCII or UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as ASCII or UTF-8)"),
    (b"{", "JSON"),
    (b"<", "HTML or XML"),
)
_TOKEN = re.compile(rb"[A-Za-z0-9]+")


def _looks_like(head: bytes) -> str:
    """What a file that is not X12 looks like, without quoting its text (it may be a list of
    patients): a known file signature, binary data, or the kind of its first word (quoted only
    when it is a segment id, e.g. a file that starts at 'GS')."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if any(b < 32 and b not in b"\t\r\n" for b in head[:64]):
        return "binary data"
    word = _TOKEN.match(head)
    return f"text beginning with {shown(word.group().decode('ascii') if word else head[:1].decode('latin-1'))}"


_DELIMITER_HINT = "Ask the sender to resend the file with ASCII delimiters (such as * : ^ ~)"


def _not_ascii(data: bytes, pos: int, what: str, where: str, path) -> X12Error:
    """The rejection of a delimiter whose byte at ``pos`` is not ASCII. A multi-byte UTF-8 character
    is named as such: its first byte alone would otherwise be taken for the delimiter, the file
    would then read as truncated, and a non-ASCII byte must never split text for polars/DuckDB
    (a split inside a UTF-8 character makes invalid strings, which panic)."""
    desc = f"is byte 0x{data[pos]:02X}, which is not an ASCII character"
    for n in (2, 3, 4):
        try:
            ch = data[pos : pos + n].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(ch) == 1:
            desc = f"{ch!r} (U+{ord(ch):04X}) is a {n}-byte UTF-8 character, not ASCII"
            break
    return X12Error(
        path,
        f"the {what} {desc}; X12 delimiters are single ASCII characters",
        segment=1,
        expected=f"an ASCII punctuation character {where}",
        hint=_DELIMITER_HINT,
    )


def _isa_delimiters(data: bytes, start: int, path) -> tuple[Delimiters, list[str], int]:
    """Delimiters of the ISA that begins at ``start`` (scanning, not fixed offsets), the notes
    tolerated, and the length of the ISA up to ISA16 (line breaks inside it mean a hard wrap)."""
    sep = data[start + 3 : start + 4]
    if sep and sep[0] >= 0x80:
        raise _not_ascii(data, start + 3, "element separator", "right after 'ISA'", path)
    if not sep or sep.isalnum() or sep in _WS:
        raise X12Error(
            path,
            "ISA segment has no element separator",
            segment=1,
            expected="a punctuation character right after 'ISA'",
            found="the end of the file" if not sep else "a letter or digit" if sep.isalnum() else "whitespace",
            hint="The file is not a readable X12 interchange",
        )
    pos = start + 3
    seps: list[int] = []
    for _ in range(16):
        pos = data.find(sep, pos)
        if pos < 0 or pos - start > 400:
            raise X12Error(
                path,
                "ISA header is truncated",
                segment=1,
                expected="16 elements in the ISA segment",
                found=f"{len(seps)}",
                hint="The file was cut short or is not X12",
            )
        seps.append(pos)
        pos += 1
    comp_pos = seps[15] + 1
    component = data[comp_pos : comp_pos + 1]
    terminator = data[comp_pos + 1 : comp_pos + 2]
    if not component or not terminator:
        raise X12Error(
            path,
            "ISA header is truncated",
            segment=1,
            expected="ISA16 component separator followed by the segment terminator",
        )
    if component[0] >= 0x80:
        raise _not_ascii(data, comp_pos, "component separator (ISA16)", "after the 16th element separator", path)
    if terminator[0] >= 0x80:
        raise _not_ascii(data, comp_pos + 1, "segment terminator", "right after ISA16", path)
    if any(b >= 0x80 for b in data[seps[10] + 1 : seps[11]]):
        raise _not_ascii(data, seps[10] + 1, "repetition separator (ISA11)", "in ISA11", path)
    tolerated = []
    length = comp_pos + 2 - start
    if length != 106:
        tolerated.append(f"ISA segment is {length} bytes, not 106 (delimiters found by scanning)")
    if terminator.isalnum():
        raise X12Error(
            path,
            "ISA segment terminator is a letter or digit",
            segment=1,
            expected="a punctuation or line-break character after ISA16",
            found=repr(terminator.decode("latin-1")),
        )
    elements = data[start:comp_pos].split(sep)
    rep = elements[11] if len(elements) > 11 else b""
    repetition = rep.decode("latin-1") if len(rep) == 1 and not rep.isalnum() else None
    if terminator == b"\r" and data[comp_pos + 2 : comp_pos + 3] == b"\n":
        terminator = b"\n"  # CRLF line ends: split on LF, the CR is stripped as whitespace
    return (
        Delimiters(sep.decode("latin-1"), component.decode("latin-1"), terminator.decode("latin-1"), repetition),
        tolerated,
        comp_pos + 1 - start,
    )


def _bare_delimiters(data: bytes, start: int, path) -> Delimiters:
    """Delimiters of a fragment that starts at ST (no ISA): inferred from ST and SVC."""
    sep = data[start + 2 : start + 3]
    if sep and sep[0] >= 0x80:
        raise _not_ascii(data, start + 2, "element separator", "right after 'ST'", path)
    if not sep or sep.isalnum() or sep in _WS:
        raise X12Error(
            path,
            "no ISA header and the ST segment has no element separator",
            segment=1,
            expected="'ST' followed by a separator",
            found="the end of the file" if not sep else "a letter or digit" if sep.isalnum() else "whitespace",
        )
    terminator = None
    for i in range(start + 3, min(len(data), start + 200)):
        ch = data[i : i + 1]
        if ch != sep and not ch.isalnum() and ch != b" ":
            terminator = ch
            break
    if terminator is None:
        raise X12Error(
            path,
            "cannot find the segment terminator after ST",
            segment=1,
            expected="ST*835*<control number> followed by a terminator such as '~'",
        )
    if terminator[0] >= 0x80:
        raise _not_ascii(data, i, "segment terminator", "after ST*835*<control number>", path)
    if terminator == b"\r" and data[i + 1 : i + 2] == b"\n":
        terminator = b"\n"
    component = b":"
    m = re.search(rb"SVC" + re.escape(sep) + rb"[A-Z0-9]{2}([^A-Za-z0-9])", data)
    if m and m.group(1) not in (sep, terminator) and m.group(1)[0] < 0x80:  # delimiters are ASCII
        component = m.group(1)
    return Delimiters(sep.decode("latin-1"), component.decode("latin-1"), terminator.decode("latin-1"))


WRAP_HEAD_BYTES = 1 << 14  # bytes looked at for a hard wrap (about 200 lines of 80)


def _refuse_hard_wrap(data: bytes, start: int, delims: Delimiters, isa_end: int, path) -> None:
    """Reject a file hard-wrapped at a fixed width (a line break every N characters, also inside
    segments: a mail or mainframe transfer that wrapped its lines), naming the width and where the
    first break falls (segment, element, character) but no text, which may be PHI.

    Wrapped means: the lines are all N characters long (the last may be shorter) and a break falls
    inside a segment (not after a terminator), or inside the ISA (``isa_end`` bytes long, 0 for a
    bare transaction). A line break after each terminator, padded fixed-length records and a single
    stray break are no wrap (the file is read as before). Only the first :data:`WRAP_HEAD_BYTES`
    are looked at: a wrap starts at the ISA."""
    head = data[start : start + WRAP_HEAD_BYTES]
    if b"\n" not in head:
        return
    lines = head.split(b"\n")[:-1]  # the lines ended by a break (the last piece may be cut short)
    width = _wrap_width(lines)
    first = None if width is None else _first_inner_break(lines, delims.segment.encode("latin-1"), isa_end, width)
    if first is None:
        return
    term = delims.segment.encode("latin-1")
    before = b"\n".join(lines[: first + 1])
    segment = 1 if term in b"\r\n" else before.count(term) + 1
    text = before[before.rfind(term) + 1 :] if term not in b"\r\n" else before
    text = text.replace(b"\r", b"").replace(b"\n", b"").lstrip(_WS + b"~")
    sep = delims.element.encode("latin-1")
    tag = text.split(sep, 1)[0].decode("latin-1")
    element = text.count(sep)
    raise X12Error(
        path,
        f"the file looks hard-wrapped at {width} characters: it has a line break every {width} characters, "
        f"also inside segments; the first is in segment {segment} "
        + (f"({tag}), in {tag}{element:02d}" if tag in SEGMENT_IDS else f"(an unknown tag), in element {element}")
        + f", after character {len(text)} of the segment",
        segment=segment,
        expected="line breaks only between segments",
        hint="Ask the sender for the unwrapped file (the 835 as the payer sent it, without line breaks added)",
    )


def _wrap_width(lines: list[bytes]) -> int | None:
    """N when every line is N characters long (the last may be shorter) and there are two or more."""
    widths = [len(line.rstrip(b"\r")) for line in lines]
    if len(widths) < 2 or widths[0] == 0 or any(w != widths[0] for w in widths[:-1]) or widths[-1] > widths[0]:
        return None
    return widths[0]


def _first_inner_break(lines: list[bytes], term: bytes, isa_end: int, width: int) -> int | None:
    """The index of the first line whose break falls inside a segment, if any.

    With a line-break terminator (a wrap right after ISA16 makes the line break look like the
    ISA's terminator) a break is known to be inside a segment only in the ISA, or when most lines
    use their full width (padded fixed-length records end in spaces)."""
    line_end = term in b"\r\n"
    pos = 0
    for i, line in enumerate(lines):
        pos += len(line) + 1
        if pos - 1 < isa_end or (not line_end and line.rstrip(b" \t\r")[-1:] != term):
            return i
    if line_end and len(lines) >= 3:
        full = sum(len(line.rstrip(b" \t\r")) == width for line in lines[:-1])
        if 2 * full > len(lines) - 1:
            return 0
    return None


def _decode(data: bytes, tolerated: list[str]) -> bytes:
    """Bytes that are valid UTF-8 (ASCII as is; Latin-1 bytes re-encoded)."""
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        tolerated.append("non-UTF-8 bytes read as Latin-1")
        return data.decode("latin-1").encode("utf-8")


@dataclass
class Scan:
    """Where every segment is in the (decoded) bytes, and its tag code; no text objects yet.

    ``starts``/``ends`` are byte offsets of each non-empty segment without terminator or
    surrounding whitespace; ``code`` is :func:`tag_code` of its tag (-1 when it has none).
    """

    path: str
    data: bytes
    delimiters: Delimiters
    enveloped: bool
    starts: np.ndarray
    ends: np.ndarray
    code: np.ndarray | None  # None after :meth:`release_codes`
    tolerated: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.starts)  # (``code`` may have been released)

    def release_codes(self) -> None:
        """Let go of the tag codes (4 bytes a segment): once ``envelope.prepare`` has made the tag
        ids from them nothing reads them again, and an ingest frees them before building tables."""
        self.code = None

    def texts(self, idx: np.ndarray | None = None, skip: int = 0) -> pl.Series:
        """The text of segments ``idx`` (ascending row numbers; all when None) as a polars Series,
        without its first ``skip`` bytes (e.g. a known tag and its separator)."""
        starts, ends = (self.starts, self.ends) if idx is None else (self.starts[idx], self.ends[idx])
        if skip:
            starts = np.minimum(starts + skip, ends)
        return _texts(self.data, starts, ends)


def scan(
    data: bytes,
    path,
    *,
    pool: Executor | None = None,
    chunk_bytes: int | None = None,
    block_segments: int | None = None,
) -> Scan:
    """Find the delimiters and every segment of an X12 file. Raises X12Error when it is not X12.

    With ``pool`` (an executor with a free thread), the work is shared between that thread and this
    one; ``chunk_bytes`` and ``block_segments`` size its pieces (:data:`SCAN_CHUNK_BYTES`,
    :data:`BLOCK_SEGMENTS` by default). The ingest's schedule decides both
    (``pipelines.ingest.schedule``); every choice finds the same segments."""
    tolerated: list[str] = []
    if data.startswith(BOM):
        data = data[len(BOM) :]
        tolerated.append("UTF-8 byte order mark skipped")
    start = len(data) - len(data.lstrip(b" \t\r\n\x00~"))  # whitespace or a stray terminator first
    if start == len(data):
        raise X12Error(
            path, "the file is empty", segment=1, expected="an ISA header", hint="Check that the transfer completed"
        )
    head = data[start : start + 3]
    if head == b"ISA":
        delims, more, isa_end = _isa_delimiters(data, start, path)
        tolerated += more
        enveloped = True
    elif head[:2] == b"ST" and not head[2:3].isalnum():
        delims, isa_end = _bare_delimiters(data, start, path), 0
        enveloped = False
        tolerated.append(f"no ISA/GS envelope: bare ST..SE, delimiters inferred ({delims.describe()})")
    else:
        raise X12Error(
            path,
            "not an X12 file: it does not begin with an ISA header",
            segment=1,
            expected="'ISA' (or a bare 'ST' transaction)",
            found=_looks_like(data[start : start + 256]),
            hint="Only X12 835 remittance files can be ingested",
        )
    _refuse_hard_wrap(data, start, delims, isa_end, path)
    data = _decode(data[start:], tolerated)
    starts, ends, code, more = _locate(
        data, delims, pool, chunk_bytes or SCAN_CHUNK_BYTES, block_segments or BLOCK_SEGMENTS
    )
    tolerated += more
    if len(code) == 0:
        raise X12Error(path, "no segments found", segment=1, expected="ISA ... IEA")
    return Scan(str(path), data, delims, enveloped, starts, ends, code, tolerated)


def tokenize(data: bytes, path) -> Segments:
    """Split an X12 file into a frame of segments (seg_no, code, tag, text). Raises X12Error."""
    import polars as pl

    sc = scan(data, path)
    code = sc.code if sc.code is not None else np.empty(0, dtype=np.int32)  # a fresh scan has its codes
    names = {int(c): tag_name(int(c)) for c in np.unique(code)}
    tags = pl.Enum(sorted(set(names.values())))
    frame = pl.DataFrame(
        {
            "seg_no": pl.int_range(1, len(sc) + 1, dtype=pl.Int32, eager=True),
            "code": pl.Series(code, dtype=pl.Int32),
            "text": sc.texts(),
        }
    ).with_columns(pl.col("code").replace_strict(list(names), list(names.values()), return_dtype=tags).alias("tag"))
    return Segments(sc.path, frame.select("seg_no", "code", "tag", "text"), sc.delimiters, sc.enveloped, sc.tolerated)


def tag_name(code: int) -> str:
    """The tag text of a :func:`tag_code` value ('?' for -1)."""
    if code < 0:
        return "?"
    return "".join(chr(x) for x in ((code >> 16) & 255, (code >> 8) & 255, code & 255) if x)


_CHUNK = 1 << 19  # segments converted to polars at a time (bounds temporary memory)


def tag_code(tag: str) -> int:
    """Integer code of a segment tag (3 bytes big-endian, 2-letter tags end in 0)."""
    b = tag.encode("ascii")
    return (b[0] << 16) | (b[1] << 8) | (b[2] if len(b) > 2 else 0)


SCAN_CHUNK_BYTES = 1 << 22  # bytes compared at a time when finding terminators
BLOCK_SEGMENTS = 1 << 18  # segments trimmed and coded at a time


def _byte_set(values: bytes) -> np.ndarray:
    """A 256-entry lookup table: True for each byte in ``values``."""
    lut = np.zeros(256, dtype=bool)
    lut[np.frombuffer(values, dtype=np.uint8)] = True
    return lut


_WS_SET = _byte_set(b" \t\r\n\x00\x1a")
_LEAD_SET = _byte_set(b" \t\r\n\x00\x1a~")  # ... and a stray '~' (files terminated by line breaks)


def _terminators(arr: np.ndarray, value: int, pos_type, chunk: int, chunks: range) -> list[np.ndarray]:
    """Offsets of every byte equal to ``value`` in the ``chunk``-byte chunks starting at
    ``chunks``, one array per chunk. The comparison goes into one reused mask: a fresh file-sized
    temporary costs more in new memory pages than the comparison itself."""
    mask = np.empty(min(len(arr), chunk), dtype=bool)
    found = []
    for lo in chunks:
        hi = min(len(arr), lo + chunk)
        np.equal(arr[lo:hi], value, out=mask[: hi - lo])
        found.append(np.flatnonzero(mask[: hi - lo]).astype(pos_type) + pos_type(lo))
    return found


def _locate(data: bytes, delims: Delimiters, pool: Executor | None, chunk: int, block: int):
    """starts, ends, code of every non-empty segment (vectorized on the raw bytes) + notes.

    Terminators are found a ``chunk`` of bytes at a time, then segments are trimmed and coded a
    ``block`` at a time, in place. With ``pool``, the chunks and blocks are shared between its thread
    and this one (numpy lets go of the GIL in these loops): the scan is the one step before loading
    can start that nothing else overlaps."""
    arr = np.frombuffer(data, dtype=np.uint8)
    size = len(arr)
    pos_type = np.int32 if size < 2**31 - 64 else np.int64  # room for start + a tag's length

    def both(fn: Callable[..., Any], items: range, *args: Any) -> list[Any]:
        """fn(*args, items) on two threads (first and second half of ``items``) or one."""
        if pool is None:
            return [fn(*args, items)]
        half = (len(items) + 1) // 2
        second = pool.submit(fn, *args, items[half:])
        try:
            first = fn(*args, items[:half])
        finally:
            wait([second])  # never leave the other half running on these arrays
        return [first, second.result()]

    found = both(_terminators, range(0, size, chunk), arr, ord(delims.segment), pos_type, chunk)
    ends = np.concatenate([a for part in found for a in part] + [np.array([size], dtype=pos_type)])
    del found
    starts = np.empty_like(ends)
    starts[0] = 0
    np.add(ends[:-1], 1, out=starts[1:])
    code = np.empty(len(ends), dtype=np.int32)
    tilde = delims.segment in "\r\n" and "~" not in (delims.element, delims.component)
    stray = sum(
        both(
            _trim_and_code,
            range(0, len(ends), block),
            arr,
            starts,
            ends,
            code,
            np.uint8(ord(delims.element)),
            tilde,
            block,
        )
    )
    empty = np.flatnonzero(starts >= ends)
    if len(empty) and empty[0] == len(ends) - len(empty):
        # only at the end (a line break after the last terminator, say): views, no copies
        starts, ends, code = starts[: empty[0]], ends[: empty[0]], code[: empty[0]]
    elif len(empty):
        keep = np.ones(len(ends), dtype=bool)
        keep[empty] = False
        starts, ends, code = starts[keep], ends[keep], code[keep]
    tolerated = [f"{stray} segments prefixed with a stray '~'"] if stray else []
    return starts, ends, code, tolerated


def _trim_and_code(arr, starts, ends, code, sep, tilde, block, blocks) -> int:
    """Trim and code the segments of the ``block``-segment blocks starting at ``blocks``, in place
    (temporaries a block long are reused; a dozen fresh arrays the size of the segment count cost
    more in new memory pages than the work). Returns how many stray '~' were skipped."""
    lead = _LEAD_SET if tilde else _WS_SET
    stray = 0
    for lo in blocks:
        s, e = starts[lo : lo + block], ends[lo : lo + block]  # views
        stray += _trim(arr, s, e, lead, tilde)
        _tag_codes(arr, s, e, sep, out=code[lo : lo + block])
    return stray


def _trim(arr: np.ndarray, s: np.ndarray, e: np.ndarray, lead: np.ndarray, tilde: bool) -> int:
    """Move starts ``s`` past leading whitespace / indentation (and a stray '~' when ``tilde``) and
    ends ``e`` before trailing whitespace, in place; returns how many stray '~' were skipped.
    Nearly every segment has neither, so each side is one lookup unless some do."""
    stray = 0
    if lead[arr.take(s, mode="clip")].any():  # a start can be len(arr): the file's very end
        idx = np.flatnonzero(s < e)
        while len(idx):
            b = arr[s[idx]]
            hit = lead[b]
            if tilde:
                stray += int(np.count_nonzero(b[hit] == ord("~")))
            idx = idx[hit]
            s[idx] += 1
            idx = idx[s[idx] < e[idx]]
    if _WS_SET[arr.take(e - 1, mode="clip")].any():
        idx = np.flatnonzero(s < e)
        while len(idx):
            idx = idx[_WS_SET[arr[e[idx] - 1]]]
            e[idx] -= 1
            idx = idx[s[idx] < e[idx]]
    return stray


def _tag_codes(arr: np.ndarray, s: np.ndarray, e: np.ndarray, sep: np.uint8, out: np.ndarray) -> None:
    """:func:`tag_code` of segments [s, e) from their first three bytes into ``out`` (-1 when a
    3-byte prefix is not followed by the element separator, e.g. 'SVCX*': not a tag we know)."""
    lens = e - s

    def byte_at(k):
        b = arr.take(s + k, mode="clip")
        b[lens <= k] = 0 if k < 3 else sep
        return b

    b2, b3 = byte_at(2), byte_at(3)
    two = b2 == sep
    b2[two] = 0
    ok = two | (b3 == sep) | (lens == 3)
    np.left_shift(arr.take(s, mode="clip"), 16, out=out, dtype=np.int32)
    out |= byte_at(1).astype(np.int32) << 8
    out |= b2
    out[~ok] = -1


def _texts(data: bytes, starts: np.ndarray, ends: np.ndarray) -> pl.Series:
    """Segments [starts, ends) of ``data`` as a polars String Series.

    Arrow strings over the file's own bytes: offsets interleave [start, end) of each segment
    with whatever lies between two wanted segments; every second string is kept. Converted in
    chunks so only one chunk's temporary views exist at a time.
    """
    import polars as pl
    import pyarrow as pa

    n = len(starts)
    if n == 0:
        return pl.Series("text", [], dtype=pl.String)
    wide = len(data) >= 2**31 - 1
    pos_type = np.int64 if wide else np.int32
    kind = pa.LargeStringArray if wide else pa.StringArray
    buf = pa.py_buffer(data)
    chunks = []
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        offsets = np.empty(2 * (hi - lo), dtype=pos_type)
        offsets[0::2] = starts[lo:hi]
        offsets[1::2] = ends[lo:hi]
        strings = kind.from_buffers(2 * (hi - lo) - 1, pa.py_buffer(offsets), buf)
        chunks.append(pl.Series("text", _ArrowArray(strings)).gather_every(2))
        del strings, offsets
    return chunks[0] if len(chunks) == 1 else pl.concat(chunks, rechunk=False)


class _ArrowArray:
    """An Arrow array handed to polars through the Arrow PyCapsule interface only: given a pyarrow
    array, polars first imports pyarrow.compute (0.04 s at the start of every ingest)."""

    def __init__(self, array):
        self.array = array

    def __arrow_c_array__(self, requested_schema=None):
        return self.array.__arrow_c_array__(requested_schema)
