"""Envelope and structure of a whole 835 file, checked before any table is built (pure).

``prepare`` checks ISA/GS/ST/SE/GE/IEA nesting, counts and control numbers over the envelope
segments only, refuses content outside any transaction and notes unknown segments. The result,
:class:`PreparedERA`, holds the scan and the tag ids that the slices are cut from.
``prepare_file`` does it for a :class:`pipelines.ingest.read.ScannedFile`: its result,
:class:`PreparedFile`, is what the loader takes (the second of a file's two stages before loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.core.errors import X12Error, shown
from pipelines.ingest.read import ScannedFile
from pipelines.ingest.scan import Scan, tag_name
from pipelines.ingest.segments import _ENVELOPE_TID, TID, _elements, _rows, tag_ids

TRAILER_CHECKS = {
    "GE": ("ge", "transactions", "group", 6, "GS06"),
    "IEA": ("iea", "groups", "interchange", 13, "ISA13"),
}

TRANSACTION_NAMES = {
    "837": "an 837 claim",
    "999": "a 999 acknowledgment",
    "997": "a 997 acknowledgment",
    "277": "a 277 claim status response",
    "276": "a 276 claim status request",
    "270": "a 270 eligibility inquiry",
    "271": "a 271 eligibility response",
    "278": "a 278 services review",
    "820": "an 820 premium payment",
    "834": "an 834 enrollment",
    "TA1": "a TA1 acknowledgment",
}


_TRANSACTION_CODES = frozenset(TRANSACTION_NAMES) | {"835"}

# Segment ids of other X12 transactions that turn up in 835 files (quoted when ignored; any other
# tag of an unknown segment is described, not quoted: a terminator inside a name makes the rest
# of the name look like a segment)
OTHER_X12_SEGMENTS = frozenset("NTE K3 HL PRV SBR CL1 PWK CN1 TA1 AK1 AK2 AK9 IK3 IK4 IK5 BHT".split())


def _tag_shown(tag: str) -> str:
    """An unknown segment's tag as a message may show it (see :data:`OTHER_X12_SEGMENTS`)."""
    return shown(tag, codes=OTHER_X12_SEGMENTS)


def _count(value: str) -> str:
    """A count read from SE01/GE01/IEA01 as a message shows it: digits as they are (a count is no
    PHI), anything else described, not quoted."""
    return value if value.isascii() and value.isdigit() and len(value) <= 10 else shown(value)


def _empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


ISSUE_SCHEMA = {
    "payment_key": pl.Int64,
    "claim_key": pl.Int64,
    "line_key": pl.Int64,
    "segment_number": pl.Int64,
    "rule": pl.String,
    "severity": pl.String,
    "expected": pl.String,
    "actual": pl.String,
    "message": pl.String,
}


def _issue(rule, message, *, segment=None, payment=None, expected=None, actual=None, severity="warning"):
    return {
        "payment_key": payment,
        "claim_key": None,
        "line_key": None,
        "segment_number": segment,
        "rule": rule,
        "severity": severity,
        "expected": expected,
        "actual": actual,
        "message": message,
    }


def _envelope(env: pl.DataFrame, n_segments: int, segs: Scan, path) -> tuple[list[dict], dict]:
    """Check ISA/GS/ST/SE/GE/IEA nesting, counts and control numbers (loops over envelope rows only).

    ``env`` holds seg_no, tag, text of the envelope segments only."""
    sep = segs.delimiters.element
    issues: list[dict] = []
    info: dict[str, Any] = {"interchanges": 0, "transactions": 0, "version": None}
    stack: list[list] = []  # open envelopes: (tag, seg_no, elements, child_count)
    expect_close = {"ISA": "IEA", "GS": "GE", "ST": "SE"}
    parent_of = {"GS": "ISA", "ST": "GS"}
    txn = 0
    for seg_no, tag, text in env.iter_rows():
        el = text.split(sep)
        if tag in ("ISA", "GS", "ST"):
            if stack and stack[-1][0] == "ST":
                raise X12Error(
                    path,
                    f"the transaction set begun at segment {stack[-1][1]} has no SE trailer",
                    segment=seg_no,
                    expected="SE before the next " + tag,
                    found=tag,
                    hint="The file looks truncated or spliced; ask the sender to resend it",
                )
            if tag == "ST":
                st01 = el[1] if len(el) > 1 else ""
                if st01 != "835":
                    what = TRANSACTION_NAMES.get(st01, "a transaction")
                    raise X12Error(
                        path,
                        f"this is {what}, not an 835 remittance",
                        segment=seg_no,
                        expected="ST01 = 835",
                        found=shown(st01, codes=_TRANSACTION_CODES),
                        hint="Only 835 remittance advice files can be ingested",
                    )
                txn += 1
                info["transactions"] += 1
                if info["version"] is None and len(el) > 3 and el[3]:
                    info["version"] = el[3]
            if tag == "ISA":
                info["interchanges"] += 1
                if stack:
                    raise X12Error(
                        path,
                        f"{stack[-1][0]} begun at segment {stack[-1][1]} is not closed",
                        segment=seg_no,
                        expected=expect_close[stack[-1][0]],
                        found="ISA",
                        hint="The file looks truncated or spliced; ask the sender to resend it",
                    )
            elif segs.enveloped:
                parent = parent_of[tag]
                if not stack or stack[-1][0] != parent:
                    raise X12Error(
                        path,
                        f"{tag} outside its {parent} envelope",
                        segment=seg_no,
                        expected=f"{tag} inside {parent}",
                        found=tag,
                    )
                stack[-1][3] += 1
            if tag == "GS" and info["version"] is None and len(el) > 8 and el[8]:
                info["version"] = el[8]
            stack.append([tag, seg_no, el, 0, txn])
            continue
        # trailers
        opener = {"SE": "ST", "GE": "GS", "IEA": "ISA"}[tag]
        if not stack or stack[-1][0] != opener:
            if opener in ("GS", "ISA") and not segs.enveloped:
                raise X12Error(path, f"{tag} without {opener}", segment=seg_no, expected=f"{opener} before {tag}")
            raise X12Error(
                path,
                f"{tag} without a matching {opener}",
                segment=seg_no,
                expected=expect_close[stack[-1][0]] if stack else opener,
                found=tag,
                hint="The envelope is broken; ask the sender to resend the file",
            )
        _, open_no, open_el, children, t = stack.pop()
        count = el[1] if len(el) > 1 else ""
        ctrl = el[2] if len(el) > 2 else ""
        if tag == "SE":
            actual = seg_no - open_no + 1
            if count != str(actual):
                issues.append(
                    _issue(
                        "se_count",
                        f"SE01 says {_count(count)} segments, the transaction has {actual}",
                        segment=seg_no,
                        payment=t,
                        expected=str(actual),
                        actual=count,
                    )
                )
            want = open_el[2] if len(open_el) > 2 else ""
            if ctrl != want:
                issues.append(
                    _issue(
                        "se_control", "SE02 does not match ST02", segment=seg_no, payment=t, expected=want, actual=ctrl
                    )
                )
        else:  # GE / IEA: count of children and control number against the opener
            rule, children_are, envelope, ctrl_at, opener_el = TRAILER_CHECKS[tag]
            if count != str(children):
                issues.append(
                    _issue(
                        f"{rule}_count",
                        f"{tag}01 says {_count(count)} {children_are}, the {envelope} has {children}",
                        segment=seg_no,
                        expected=str(children),
                        actual=count,
                    )
                )
            want = open_el[ctrl_at] if len(open_el) > ctrl_at else ""
            if ctrl.strip() != want.strip():
                issues.append(
                    _issue(
                        f"{rule}_control",
                        f"{tag}02 does not match {opener_el}",
                        segment=seg_no,
                        expected=want.strip() if tag == "IEA" else want,
                        actual=ctrl,
                    )
                )
    if stack:
        tag, seg_no = stack[-1][0], stack[-1][1]
        raise X12Error(
            path,
            f"{tag} begun at segment {seg_no} is never closed: the file is truncated",
            segment=int(n_segments),
            expected=expect_close[tag],
            found="end of file",
            hint="Ask the sender to resend the complete file",
        )
    if info["transactions"] == 0:
        raise X12Error(
            path,
            "no ST transaction in the file",
            segment=1,
            expected="ST*835",
            hint="The interchange is empty; nothing to load",
        )
    return issues, info


def _envelope_frames(isa_part, gs_part, sep):
    """ISA13 and GS06/GS08 keyed by their segment numbers (for the payments of any slice)."""
    isa = (
        _elements(isa_part, sep, 13, first=0).select(
            pl.col("seg_no").alias("_isa_seg"), pl.col("e13").alias("interchange_control")
        )
        if isa_part is not None
        else pl.DataFrame(schema={"_isa_seg": pl.Int32, "interchange_control": pl.String})
    )
    gs = (
        _elements(gs_part, sep, 8, first=0).select(
            pl.col("seg_no").alias("_gs_seg"), pl.col("e06").alias("group_control"), pl.col("e08").alias("gs_version")
        )
        if gs_part is not None
        else pl.DataFrame(schema={"_gs_seg": pl.Int32, "group_control": pl.String, "gs_version": pl.String})
    )
    return isa, gs


@dataclass
class PreparedERA:
    """A scanned file whose envelope and structure were checked, ready to be cut into tables.

    Holds only the scan (segment offsets and tag codes over the file's bytes): the text and the
    hierarchical keys of a slice of whole transactions are made when that slice is built, and
    keys are file-wide, so every slice yields the same rows as the whole file would.
    """

    path: str
    scan: Scan | None  # None after :meth:`release_scan`
    tid: np.ndarray  # tag id (TID) of every segment
    isa: pl.DataFrame
    gs: pl.DataFrame
    issues: list[dict]
    info: dict
    tolerated: list[str]
    delimiters: object
    segments: int
    _counted: tuple[int, np.ndarray] | None = None  # (row, tag counts of the rows before it)

    def release_scan(self) -> None:
        """Let go of the scan (the file's bytes and segment offsets) once every slice has taken
        its segments from it: the loader calls this as soon as the last slice is gathered."""
        self.scan = None

    def tag_counts_before(self, row: int) -> np.ndarray:
        """How many segments of each tag id come before ``row``. Slices are built in order, so each
        call counts on from the previous one instead of counting the whole prefix again."""
        start, counts = self._counted if self._counted and self._counted[0] <= row else (0, None)
        more = np.bincount(self.tid[start:row], minlength=256)
        counts = more if counts is None else counts + more
        self._counted = (row, counts)
        return counts

    def slices(self, target: int, edge: int | None = None) -> list[tuple[int, int]]:
        """[lo, hi) row ranges of about ``target`` segments, each cut at an ST (whole transactions).

        With ``edge``, the first and the last slice are only about that long: loading can start
        as soon as the first is built, and little is left to load once the last one is built.
        """
        n = self.segments
        st = np.flatnonzero(self.tid == TID["ST"])
        wanted = np.arange(target, n, target)
        if edge is not None and n > 2 * edge + target:
            wanted = np.concatenate([[edge], np.arange(edge + target, n - edge, target), [n - edge]])
        cuts = np.unique(st[np.minimum(np.searchsorted(st, wanted), len(st) - 1)])
        # the first slice runs from the file start through the first transaction at least
        bounds = [0] + [int(c) for c in cuts if st[0] < c < n] + [n]
        return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def prepare(sc: Scan, path) -> PreparedERA:
    """Envelope, counts and structure checks over the whole file (text made for few rows only)."""
    code_arr = sc.code
    if code_arr is None:
        raise ValueError(f"{path}: the scan's tag codes were released before prepare")
    n_segments = len(code_arr)
    tid = tag_ids(code_arr)
    env_idx = np.flatnonzero(_ENVELOPE_TID[tid])
    env = _rows(sc, env_idx).with_columns(pl.Series("tag", [tag_name(int(c)) for c in code_arr[env_idx]]))
    issues, info = _envelope(env.select("seg_no", "tag", "text"), n_segments, sc, path)
    tolerated = list(sc.tolerated)
    sep = sc.delimiters.element
    # content outside any ST..SE is not interpretable: a segment before the first envelope segment,
    # or after an envelope segment other than ST (SE, GE, IEA, ISA, GS) and before the next one
    outside = (np.diff(env_idx, append=n_segments) > 1) & (tid[env_idx] != TID["ST"])
    stray = 0 if env_idx[0] > 0 else (int(env_idx[np.argmax(outside)]) + 1 if outside.any() else None)
    if stray is not None:
        raise X12Error(
            path,
            "segment outside any ST..SE transaction",
            segment=stray + 1,
            expected="ISA, GS, ST, SE, GE or IEA here",
            found=shown(tag_name(int(code_arr[stray]))),
            hint="The file is damaged or not an 835; ask the sender to resend it",
        )
    unknown_idx = np.flatnonzero(tid == 0)
    if len(unknown_idx):
        st_idx = np.flatnonzero(tid == TID["ST"])
        first = int(unknown_idx[0])
        tag0 = sc.texts(unknown_idx[:1])[0].split(sep)[0]
        tolerated.append(
            f"{len(unknown_idx)} segment(s) that are not part of an 835 ignored "
            f"(first: segment {first + 1}, tag {_tag_shown(tag0)})"
        )
        for i, text in zip(unknown_idx[:100].tolist(), sc.texts(unknown_idx[:100]).to_list()):
            tag = text.split(sep)[0]
            t = int(np.searchsorted(st_idx, i, side="right"))
            issues.append(
                _issue(
                    "unknown_segment",
                    f"segment with tag {_tag_shown(tag)} is not part of an 835; ignored",
                    segment=i + 1,
                    payment=t or None,
                    actual=tag if tag in OTHER_X12_SEGMENTS else None,
                )
            )
    isa_rows = env.filter(pl.col("tag") == "ISA").drop("tag")
    gs_rows = env.filter(pl.col("tag") == "GS").drop("tag")
    isa, gs = _envelope_frames(isa_rows if isa_rows.height else None, gs_rows if gs_rows.height else None, sep)
    return PreparedERA(
        path=str(path),
        scan=sc,
        tid=tid,
        isa=isa,
        gs=gs,
        issues=issues,
        info=info,
        tolerated=tolerated,
        delimiters=sc.delimiters,
        segments=n_segments,
    )


@dataclass
class PreparedFile:
    """One file read, hashed and checked for structure, before any database work: a
    :class:`pipelines.ingest.read.ScannedFile` after :func:`prepare` (the scan now lives in ``prep``)."""

    path: Path
    size: int
    sha256: str
    prep: PreparedERA | None  # None when the file could not be read as an 835
    error: Exception | None = None  # why not (X12Error, or an unexpected parser error)


def prepare_file(got: ScannedFile) -> PreparedFile:
    """Check a scanned file's envelopes, counts and structure (:func:`prepare`). A file that cannot
    be read as an 835 gives a PreparedFile with ``error`` set; this never raises for a bad file."""
    prep, error = None, got.error
    if error is None:
        try:
            assert got.scan is not None  # read_and_scan sets one of scan and error
            prep = prepare(got.scan, got.path)
            got.scan.release_codes()  # only prepare reads the tag codes (prep.tid has what slices need)
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded with the file; the other files go on
            error = exc
    return PreparedFile(path=got.path, size=got.size, sha256=got.sha256, prep=prep, error=error)


def file_issues(prep: PreparedERA, tolerated: list[str]) -> pl.DataFrame:
    """File-level issue rows: envelope counts, unknown segments and every tolerated irregularity."""
    rows = list(prep.issues) + [_issue("tolerated", note) for note in tolerated]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA) if rows else _empty_issues()
