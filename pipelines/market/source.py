"""Step 1, the bytes of one local TiC file: its sha256, and its JSON text in chunks.

``inspect`` hashes the file as stored (the compressed bytes of a ``.json.gz``) in one fast pass, so
that a file imported before is recognised before it is parsed. ``json_chunks`` then yields the JSON
text (decompressed when the file starts with the gzip magic bytes, whatever its name) in chunks of
``chunk_bytes``, read and decompressed by a helper thread: zlib and file reads release the GIL, so
they run on the second core while the parser runs on the first.

A damaged or cut-short gzip stream is an InputFileError giving the offset in the decompressed
stream (the offset a JSON error in the same file would give), and says so.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.errors import InputFileError, UnderpayError

CHUNK_BYTES = 1 << 20  # JSON text handed to the parser at a time (and read from disk at a time)
QUEUE_CHUNKS = 8  # chunks the reader thread may run ahead of the parser
GZIP_MAGIC = b"\x1f\x8b"
_HASH_BYTES = 8 << 20


@dataclass(frozen=True)
class LocalFile:
    """A file to read: where, how big (as stored), its sha256 and whether it is gzip."""

    path: Path
    size: int
    sha256: str
    gzip: bool

    @property
    def where(self) -> str:
        """How messages place an offset: the decompressed stream of a gzip file says so."""
        return "of the decompressed data (the file is gzip)" if self.gzip else "of the file"


def inspect(path: str | Path) -> LocalFile:
    """Hash ``path`` (sha256 of its bytes as stored) and tell whether it is gzip."""
    path = Path(path)
    if not path.exists():
        raise UnderpayError(f"{path}: no such file; give the path of a local .json or .json.gz file")
    if path.is_dir():
        raise UnderpayError(f"{path}: is a folder; give the in-network files themselves (.json or .json.gz)")
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        head = fh.read(2)
        digest.update(head)
        size += len(head)
        while block := fh.read(_HASH_BYTES):
            digest.update(block)
            size += len(block)
    return LocalFile(path=path, size=size, sha256=digest.hexdigest(), gzip=head == GZIP_MAGIC)


@dataclass
class Progress:
    """Bytes of the stored file read so far (compressed bytes for gzip), for a progress display."""

    stored: int = 0


def json_chunks(
    file: LocalFile, *, chunk_bytes: int = CHUNK_BYTES, progress: Progress | None = None
) -> Iterator[bytes]:
    """The file's JSON text in chunks of at most ``chunk_bytes``, read (and decompressed) on a helper
    thread; closing the iterator (or an error in the consumer) stops the thread."""
    progress = progress if progress is not None else Progress()
    out: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with open(file.path, "rb") as fh:
                chunks = _gunzip(file, fh, chunk_bytes, progress) if file.gzip else _plain(fh, chunk_bytes, progress)
                for chunk in chunks:
                    if not put(chunk):
                        return
            put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="market-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _plain(fh, chunk_bytes: int, progress: Progress) -> Iterator[bytes]:
    while block := fh.read(chunk_bytes):
        progress.stored += len(block)
        yield block


def _gunzip(file: LocalFile, fh, chunk_bytes: int, progress: Progress) -> Iterator[bytes]:
    """Decompressed chunks of every gzip member in ``fh`` (a file may hold several, one after another)."""
    inflate = zlib.decompressobj(wbits=31)
    produced = 0  # decompressed bytes handed on
    while raw := fh.read(chunk_bytes):
        progress.stored += len(raw)
        data = raw
        while data:
            before = inflate.copy()
            try:
                out = inflate.decompress(data, chunk_bytes)
            except zlib.error as exc:
                at = produced + _good_bytes(before, data, chunk_bytes)
                raise InputFileError(
                    file.path,
                    f"the gzip data is damaged ({exc}) at byte offset {at:,} of the decompressed data "
                    f"(compressed bytes read: {progress.stored:,}); nothing of the file was kept",
                    expected="a complete gzip stream",
                    hint="download the file again",
                ) from None
            if out:
                produced += len(out)
                yield out
            if inflate.eof:
                data = inflate.unused_data
                if data and not data.startswith(GZIP_MAGIC):
                    if data.strip(b"\0"):
                        raise InputFileError(
                            file.path,
                            f"bytes that are not gzip follow the gzip data at byte offset {produced:,} of the "
                            "decompressed data; nothing of the file was kept",
                            expected="another gzip member or the end of the file",
                            hint="download the file again",
                        )
                    data = b""
                if data:
                    inflate = zlib.decompressobj(wbits=31)
            else:
                data = inflate.unconsumed_tail
    if not inflate.eof:
        raise InputFileError(
            file.path,
            f"the gzip data ends early, after byte offset {produced:,} of the decompressed data "
            f"({progress.stored:,} compressed bytes): the file is cut short; nothing of it was kept",
            expected="the end-of-stream marker of the gzip data",
            hint="download the file again",
        )


def _good_bytes(start, data: bytes, limit: int) -> int:
    """How many bytes the decompressor ``start`` (a copy taken before the call that failed) gets from ``data``
    before the error: in 4 KB steps, then byte by byte (run only on a damaged file)."""
    good, state, pending = 0, start, data
    for step in (4096, 1):
        while good < limit:
            probe = state.copy()
            try:
                out = probe.decompress(pending, step)
            except zlib.error:
                break  # the error lies within the next ``step`` bytes: go on finer
            if not out:
                return good
            good, state, pending = good + len(out), probe, probe.unconsumed_tail
    return good
