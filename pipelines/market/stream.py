"""Step 2, one pass over a TiC JSON file with ijson: its root values, and the items of its big arrays
handed on one at a time (in-network items, provider references, a table of contents' reporting
structure, a provider-reference file's groups), whatever the order of the root keys.

How, without the file in memory and without a second pass: ijson (its C backend yajl2_c when
installed: ``parser()``) builds the root object, and puts every array and object into its parent when
it *starts*, then appends the items as they complete. Between two chunks of input (``_Feed.read``,
which ijson calls for more text) the completed items of the arrays in ``DRAINED`` are taken out of the
partly built root and handed to ``on_item``; only the item being built stays. So memory holds one
item (and one chunk of text), and provider_references after in_network costs nothing more: each side
is handed on as it is read, and the loader resolves the references once the file has been read.
Measured (docs/market.md): about as fast as ijson's own ``items()`` over one prefix.

A JSON error stops the walk with the byte offset of the refused byte (``_locate`` parses the file
again, nothing built, up to the chunk where it failed, that chunk in 16-byte slices, so that yajl's
message places the byte exactly) and what the parser expected there.
"""

from __future__ import annotations

import ast
import gc
import io
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from pipelines.core.errors import InputFileError, brief
from pipelines.market.source import CHUNK_BYTES, LocalFile, Progress, json_chunks

# Root arrays whose items are handed on one at a time (the rest of the root is small).
DRAINED = ("in_network", "provider_references", "reporting_structure", "provider_groups")
PEEK_BYTES = 64 << 10  # how much of a file ``root_keys`` reads to tell its kind
LOCATE_SLICE = 16  # bytes per parser call while locating an error (yajl places it exactly below 30)
_BOM = b"\xef\xbb\xbf"

OnItem = Callable[[str, int, Any], None]  # (root key, index in its array, the item)
OnValue = Callable[[str, Any], None]  # (root key, value): scalars as soon as read, the rest at the end


@cache
def parser():
    """ijson with its C backend (yajl2_c) when installed, else the fastest ijson has."""
    import ijson

    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:
        return ijson


def backend_name() -> str:
    return parser().backend_name


@cache
def json_errors() -> tuple[type[Exception], ...]:
    """What the parser raises for text that is not JSON (UnicodeDecodeError: bytes that are not UTF-8)."""
    import ijson

    return (ijson.JSONError, UnicodeDecodeError)


def walk(
    file: LocalFile,
    on_item: OnItem,
    on_value: OnValue | None = None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
    on_chunk: Callable[[], None] | None = None,
    pause_gc: bool = True,
) -> dict[str, int]:
    """Read ``file`` once: ``on_item`` gets each item of the root arrays in DRAINED, ``on_value`` each other
    root value, ``on_chunk`` a call before each chunk of text. Returns how many items each DRAINED array had
    (an array the file does not have is not a key).

    ``pause_gc``: the cyclic garbage collector is off while the file is read, and put back as it was after.
    ijson builds trees of dicts and lists (no cycles: reference counting frees each item once handed on),
    but the collector would walk the millions of young containers again and again: 85 -> 100 MB/s
    measured (docs/market.md)."""
    ijson = parser()
    roots: list[dict] = []

    def new_object() -> dict:  # ijson's map_type: called for every JSON object; the first is the root
        obj: dict = {}
        if not roots:
            roots.append(obj)
        return obj

    walker = _Walker(on_item, on_value)
    chunks = _text(json_chunks(file, chunk_bytes=chunk_bytes, progress=progress))

    def between_chunks() -> None:
        walker.drain(roots, final=False)
        if on_chunk is not None:
            on_chunk()

    feed = _Feed(file, chunks, between_chunks)
    was_enabled = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        for root in ijson.items(feed, "", map_type=new_object):
            walker.drain([root], final=True)
    except json_errors() as exc:
        context = walker.in_progress(roots)
        chunks.close()
        raise _json_error(file, exc, feed, context, chunk_bytes) from None
    finally:
        chunks.close()
        if pause_gc and was_enabled:
            gc.enable()
    if not roots:
        raise InputFileError(file.path, "the file holds no JSON object", expected="a TiC JSON object {...}")
    return dict(walker.counts)


class _Walker:
    """What has been handed on so far: the items of each drained array, and which root values."""

    def __init__(self, on_item: OnItem, on_value: OnValue | None):
        self.on_item = on_item
        self.on_value = on_value
        self.counts: dict[str, int] = {}
        self.told: set[str] = set()

    def drain(self, roots: list[dict], *, final: bool) -> None:
        if not roots:
            return
        root = roots[0]
        keys = list(root)
        for key in keys:
            value = root[key]
            if key in DRAINED and type(value) is list:
                # the last item may still be being built, unless the parser has gone on to a later root key
                n = len(value) if final or key != keys[-1] else len(value) - 1
                if n > 0:
                    done = value[:n]
                    del value[:n]
                    start = self.counts.get(key, 0)
                    self.counts[key] = start + n
                    for i, item in enumerate(done, start):
                        self.on_item(key, i, item)
                else:
                    self.counts.setdefault(key, 0)
            elif key not in self.told and (final or not isinstance(value, (list, dict))):
                self.told.add(key)
                if self.on_value is not None:
                    self.on_value(key, value)

    def in_progress(self, roots: list[dict]) -> str:
        """Where the parser was: the root value being read, e.g. 'inside "in_network" (item 1,235)'."""
        if not roots or not roots[0]:
            return "at the start of the root object"
        key = next(reversed(roots[0]))
        value = roots[0][key]
        if key in DRAINED and type(value) is list and value:
            return f"inside {key}[{self.counts.get(key, 0) + len(value) - 1}]"
        return f"inside {key}"


class _Feed:
    """The file-like object ijson reads: hands on completed items before each chunk, and keeps the offset
    of the chunk it returned last (for error messages)."""

    def __init__(self, file: LocalFile, chunks: Iterator[tuple[int, bytes]], drain: Callable[[], None]):
        self.file = file
        self.chunks = chunks
        self.drain = drain
        self.start = 0  # offset of the last chunk returned
        self.length = 0
        self.index = -1  # its number (0-based)
        self.first = True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        self.drain()
        start, chunk = next(self.chunks, (self.start + self.length, b""))
        self.start, self.length = start, len(chunk)
        if chunk:
            self.index += 1
            if self.first:
                self.first = False
                _check_object(self.file, start, chunk)
        return chunk


def _text(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(offset, chunk) of the JSON text, a UTF-8 byte order mark at the start skipped (offsets count it)."""
    offset = 0
    first = True
    try:
        for chunk in chunks:
            if first and chunk:
                first = False
                if chunk.startswith(_BOM):
                    chunk, offset = chunk[len(_BOM) :], len(_BOM)
            if chunk:
                yield offset, chunk
                offset += len(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _check_object(file: LocalFile, start: int, chunk: bytes) -> None:
    stripped = chunk.lstrip(b" \t\r\n")
    if stripped and not stripped.startswith(b"{"):
        at = start + len(chunk) - len(stripped)
        raise InputFileError(
            file.path,
            f"not a TiC JSON file: byte offset {at:,} {file.where} starts something other than a JSON object",
            expected="'{' (a TiC file is one JSON object)",
            found=brief(stripped[:12].decode("utf-8", "replace")),
        )


# yajl's phrases -> what was expected there
_EXPECTED = {
    "premature EOF": "the rest of the JSON",
    "trailing garbage": "the end of the file after the JSON object",
    "invalid char in json text": "a JSON value",
    "invalid string in json text": "a JSON value (true, false, null, a number or a quoted string)",
    "invalid bytes in UTF8 string": "UTF-8 text",
    "object key and value must be separated by a colon (':')": "':' between a key and its value",
    "invalid object key (must be a string)": "a quoted key",
    "unallowed token at this point in JSON text": "a value here",
}


def _json_error(file: LocalFile, exc: Exception, feed: _Feed, context: str, chunk_bytes: int) -> InputFileError:
    message = _message_bytes(exc)
    phrase = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    for prefix in ("parse error: ", "lexical error: "):
        phrase = phrase.removeprefix(prefix)
    phrase = phrase.rstrip(".")
    if isinstance(exc, UnicodeDecodeError):
        phrase = "text that is not UTF-8"
    expected = phrase.split("I expect ", 1)[1] if "I expect " in phrase else _EXPECTED.get(phrase, "valid JSON")
    end = feed.start + feed.length
    if phrase == "premature EOF":
        if end == 0:
            return InputFileError(file.path, "the file is empty", expected="a TiC JSON object")
        return InputFileError(
            file.path,
            f"the JSON ends early at byte offset {end:,} {file.where}, {context}: the file is cut short; "
            "nothing of it was kept",
            expected="the rest of the JSON",
            hint="download the file again",
        )
    located = _locate(file, feed.index, chunk_bytes)
    if located is None:
        at = f"between byte offsets {feed.start:,} and {end:,} {file.where}"
        found = None
    else:
        offset, found_bytes = located
        at = f"at byte offset {offset:,} {file.where}"
        found = brief(found_bytes.decode("utf-8", "replace")) if found_bytes else "the end of the data"
    return InputFileError(
        file.path,
        f"invalid JSON {at}, {context} ({phrase}); nothing of the file was kept",
        expected=expected,
        found=found,
        hint="check that this is a complete TiC JSON file, or download it again",
    )


def _message_bytes(exc: Exception) -> bytes:
    """yajl's message as bytes (ijson shows it as the repr of bytes when it is not UTF-8)."""
    text = str(exc)
    if text[:2] in ("b'", 'b"'):
        try:
            value = ast.literal_eval(text)
            if isinstance(value, bytes):
                return value
        except (ValueError, SyntaxError):
            pass
    return text.encode("utf-8", "replace")


def _locate(file: LocalFile, index: int, chunk_bytes: int) -> tuple[int, bytes] | None:
    """(offset, the bytes there) of the byte the parser refused in chunk ``index``: the file parsed again,
    nothing built, that chunk fed in LOCATE_SLICE-byte slices. yajl's message shows the text of the call
    it failed in, padded on the left by 40 minus the bytes it had consumed, so in a slice shorter than 30
    bytes the width of that line gives the offset exactly. None when the error does not recur."""
    ijson = parser()
    chunks = _text(json_chunks(file, chunk_bytes=chunk_bytes))
    slices = _Slices(chunks, index)
    try:
        for _ in ijson.items(slices, "\0"):  # a prefix no TiC file has: nothing is built
            pass
    except json_errors() as exc:
        piece = slices.piece
        if isinstance(exc, UnicodeDecodeError):
            return slices.start, piece
        lines = _message_bytes(exc).split(b"\n")
        if len(lines) < 2 or not piece:
            return None
        consumed = 40 + len(piece) - len(lines[1])
        at = min(max(consumed - 1, 0), len(piece))
        return slices.start + at, piece[at : at + 12]
    finally:
        chunks.close()
    return None


class _Slices:
    """Chunks as they come, chunk ``index`` in LOCATE_SLICE-byte slices."""

    def __init__(self, chunks: Iterator[tuple[int, bytes]], index: int):
        self.chunks = chunks
        self.index = index
        self.n = -1
        self.pending: tuple[int, bytes] | None = None
        self.start = 0
        self.piece = b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self.pending is None:
            got = next(self.chunks, None)
            if got is None:
                self.start, self.piece = self.start + len(self.piece), b""
                return b""
            self.n += 1
            if self.n != self.index:
                self.start, self.piece = got
                return self.piece
            self.pending = got
        offset, chunk = self.pending
        self.start, self.piece = offset, chunk[:LOCATE_SLICE]
        rest = chunk[LOCATE_SLICE:]
        self.pending = (offset + LOCATE_SLICE, rest) if rest else None
        if self.pending is None:
            self.index = -2  # done with the sliced chunk: the next ones come whole
        return self.piece


def root_keys(file: LocalFile, limit: int = PEEK_BYTES) -> list[str]:
    """The root keys in the first ``limit`` bytes of the JSON text (to tell a file's kind cheaply)."""
    ijson = parser()
    with open(file.path, "rb") as fh:
        raw = fh.read(limit if not file.gzip else 1 << 20)
    if file.gzip:
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, limit)
        except zlib.error:
            return []
    raw = raw.removeprefix(_BOM)
    keys: list[str] = []
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(raw)):
            if prefix == "" and event == "map_key":
                keys.append(value)
    except json_errors():
        pass  # the text was cut at ``limit``
    return keys
