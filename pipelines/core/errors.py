"""A small exception hierarchy whose messages carry the facts and the next step.

Every error the user can cause (bad file, missing fee schedule, malformed contract)
derives from UnderpayError; the CLI turns it into one ``Error:`` line and exit code.
"""

from __future__ import annotations


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
            text += f". {hint}"
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


class AlreadyRunning(UnderpayError):
    """Another run (nightly, monthly) holds the warehouse lock (pipelines.core.lock)."""

    exit_code = 2
