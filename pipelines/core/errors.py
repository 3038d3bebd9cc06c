"""A small exception hierarchy whose messages carry the facts and the next step.

Every error the user can cause (bad file, missing fee schedule, malformed contract)
derives from UnderpayError; the CLI turns it into one ``Error:`` line and exit code.
"""

from __future__ import annotations

import re


class UnderpayError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the whole message."""

    exit_code = 2


class InputFileError(UnderpayError):
    """An input file is not what it claims to be.

    Carries the file, the position (segment number for X12, row/column for CSV) and
    what was expected, so the message alone tells the user where to look.
    """

    def __init__(
        self,
        path,
        message: str,
        *,
        segment: int | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ):
        self.path = str(path)
        self.segment = segment
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        self.hint = hint
        self.detail = message
        where = self.path
        if segment is not None:
            where += f", segment {segment}"
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        text = f"{where}: {message}"
        if expected is not None:
            text += f"; expected {expected}"
        if found is not None:
            text += f", found {found}"
        if hint:
            text += f". {hint[0].upper()}{hint[1:]}"
        super().__init__(text)


class X12Error(InputFileError):
    """An 835 file is structurally broken (rejected whole)."""


class ReferenceDataMissing(UnderpayError):
    """A fee schedule file/year/locality needed for pricing is not in the warehouse."""


class ContractError(UnderpayError):
    """A contract file is malformed; the message is ``file:line: what, expected``."""


class ConfigError(UnderpayError):
    """A setting (underpay.toml, environment, flag) or a value given by a caller, such as a
    month that is not YYYY-MM, is not usable."""


class LakeError(UnderpayError):
    """A Parquet lake folder (pipelines.lake) cannot be written or read back: the message names the
    folder or file, the column and what to do (choose another folder, rerun the engine that wrote it)."""


class Interrupted(UnderpayError):
    """The user pressed Ctrl-C (SIGINT) or the process got SIGTERM: the command stops at once.

    The message says what was done: e.g. whether the file being loaded was committed.
    Exit status 130, the shell's convention for an interrupt."""

    exit_code = 130


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C (or SIGTERM, raised as KeyboardInterrupt) as it may arrive: a KeyboardInterrupt, an
    Interrupted, DuckDB's own report of a query it stopped (InterruptException; a COMMIT cut short gives
    RuntimeError "Query interrupted"), or a KeyboardInterrupt raised while DuckDB read Python data: DuckDB
    reports that as an error of its own, ending in the traceback's last line ("...\nKeyboardInterrupt")
    or, when the export of a registered frame was cut, "... registered as 'x' failed: KeyboardInterrupt: "."""
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return True
    duck = type(exc).__module__.lstrip("_").startswith("duckdb")
    if duck and type(exc).__name__ == "InterruptException":
        return True
    if duck and re.search(r"(\nKeyboardInterrupt\b|failed: KeyboardInterrupt: )", str(exc)):
        return True
    return type(exc) is RuntimeError and "interrupted" in str(exc).lower()


# Segment identifiers of the 835 and its envelope: safe to quote in a message (never PHI).
SEGMENT_IDS = frozenset(
    "ISA IEA GS GE ST SE BPR TRN CUR REF DTM N1 N2 N3 N4 PER RDM LX TS3 TS2 CLP CAS NM1 MIA MOA AMT QTY SVC LQ PLB".split()
)


def shown(value: str | None, *, codes=()) -> str:
    """How a message shows ``value``, a text read from a file: quoted only when it cannot be PHI.

    A segment identifier or one of ``codes`` (the caller's list of valid code values, e.g. the
    qualifiers an element accepts) is quoted; anything else (a name, a member id, a number that
    failed to parse) is described by its length and kind only, since a misaligned file can put
    a patient's name or id where a code or amount was expected.
    """
    if value is None:
        return "nothing"
    if value == "":
        return "an empty element"
    if value in SEGMENT_IDS or value in codes:
        return repr(value)
    if value.isascii() and value.isdigit():
        kind = "digits"
    elif value.isascii() and value.isalpha():
        kind = "letters"
    elif value.isascii() and value.isalnum():
        kind = "letters and digits"
    else:
        kind = "mixed text"
    n = len(value)
    article = "an" if str(n).startswith("8") or n in (11, 18) else "a"  # an 8-, an 11-, an 18-character
    return f"{article} {n}-character value ({kind})"


class AlreadyRunning(UnderpayError):
    """Another run (nightly, monthly) holds the warehouse lock (pipelines.core.lock)."""

    exit_code = 2


BRIEF_CHARS = 40  # the most of a file's value a message repeats


def brief(value, limit: int = BRIEF_CHARS) -> str:
    """``repr(value)`` when short, else its start and its size: a message never repeats a huge value."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, dict):
        if len(value) > 8:
            return f"a mapping of {len(value)} keys"
    elif isinstance(value, (list, tuple, set, frozenset)) and len(value) > 8:
        return f"a list of {len(value)} items"
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        kind = "mapping of" if isinstance(value, dict) else "list of"
        return f"a {kind} {len(value)} {'keys' if isinstance(value, dict) else 'items'} ({len(text)} characters)"
    return f"{text[:limit]}... ({len(text)} characters)"
