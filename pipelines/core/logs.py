"""Run events: one JSON line per event for log collectors, or one plain line for people.

Events carry counts, file names, months, durations and error messages about files, never
patient data: callers pass only those fields, and ``EventLog.event`` refuses keys that name
PHI columns, so a later change cannot start logging them by accident.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

from pipelines.core.outputs import private_open

# Column names that hold patient data in the warehouse: never a log field.
PHI_KEYS = frozenset(
    {
        "patient_last_name",
        "patient_first_name",
        "patient_middle_name",
        "patient_member_id",
        "insured_last_name",
        "insured_first_name",
        "insured_member_id",
        "corrected_last_name",
        "corrected_first_name",
        "corrected_member_id",
        "patient_name",
        "member_id",
    }
)


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# Characters a terminal or a log viewer would act on rather than show: C0/C1 controls (ESC starts
# ANSI sequences that recolour, move the cursor or retitle the window; CR and LF fake log lines),
# DEL, and the Unicode line separators and bidirectional overrides that reorder what is shown;
# also lone surrogates: a file name's undecodable bytes (os.fsdecode) shown as the bytes they were.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # surrogateescape: the original byte
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` (a str, or a path or anything else, as str) with control characters written as
    escapes (``\\x1b``), for text logs, notes and the ``Error:`` line: a file name from an inbox
    is shown, never obeyed by the terminal, and a line stays one line."""
    return _UNPRINTABLE.sub(_escape, str(text))


def _text(key: str, value) -> str:
    if key == "sha256" and isinstance(value, str):
        return value[:12]  # enough to find the file; the JSON log keeps all of it
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else _default(value)
    return printable(text)


class EventLog:
    """Write events to a stream (stdout by default) as JSON lines or short text lines.

    ``json_lines=True``: ``{"ts": ..., "event": ..., "run_id": ..., ...}`` per line.
    ``path``: also append JSON lines to that file (created mode 0600).
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        stream: IO[str] | None = None,
        path: str | Path | None = None,
        quiet: bool = False,
        text_events: frozenset[str] | None = None,
    ):
        self.json_lines = json_lines
        self.text_events = text_events  # text mode: only these events (None = all)
        self.stream = stream if stream is not None else sys.stdout
        self.quiet = quiet
        self.run_id: int | None = None
        self._file = None
        self.path: Path | None = None
        if path is not None:
            path = Path(path)
            self.path = path
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = private_open(path, "a", encoding="utf-8")  # appended to; never through a link

    def event(self, name: str, **fields) -> None:
        bad = PHI_KEYS.intersection(fields)
        if bad:
            raise ValueError(f"log event {name!r}: field(s) {sorted(bad)} hold patient data and are never logged")
        record: dict[str, object] = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": name}
        if self.run_id is not None:
            record["run_id"] = self.run_id
        record.update(fields)
        line = json.dumps(record, default=_default, separators=(",", ":"))
        if self._file is not None:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as exc:  # e.g. a full disk: the error names the log file
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        if self.quiet:
            return
        if self.json_lines:
            self.stream.write(line + "\n")
        elif self.text_events is not None and name not in self.text_events:
            return
        else:
            detail = " ".join(f"{k}={_text(k, v)}" for k, v in fields.items() if v is not None and v != [])
            self.stream.write(f"{name}: {detail}\n" if detail else f"{name}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None


class NullLog(EventLog):
    """Discards events (library calls from tests and the demo)."""

    def __init__(self):
        super().__init__(quiet=True)
