"""`underpay contracts check`: every problem in a contracts folder, as ``file:line: what, expected``.

Beyond the per-file checks of contracts.model: versions of one payer's contract whose dates
overlap, terms that can never match (an earlier term takes all their codes), codes the
Medicare fee schedule does not know (when a warehouse with mpfs_rvu rows is given), and the
provider roster (contracts.providers: providers.csv rows, NPI check digits, duplicates).
"""

from __future__ import annotations

import datetime as dt
import heapq
from bisect import bisect_left, bisect_right
from collections import defaultdict
from itertools import islice
from pathlib import Path

import duckdb

from contracts.appeal_rules import read_appeal_rules
from contracts.model import (
    SCHEDULE_LABELS,
    SCHEDULE_METHODS,
    Contract,
    Problem,
    Term,
    contract_files,
    contracts_root,
    parse_contract,
)
from contracts.providers import read_roster

_FAR = dt.date(9999, 12, 31)
# Terms whose Medicare amount depends on the place: the physician schedule's locality, DMEPOS's state.
_PLACED = ("percent_of_medicare", "percent_of_dmepos")


def check_folder(folder, con: duckdb.DuckDBPyConnection | None = None) -> list[Problem]:
    """All problems (errors and warnings) of the contracts under ``folder``."""
    problems: list[Problem] = []
    contracts: list[Contract] = []
    root = contracts_root(Path(folder))
    for path in contract_files(Path(folder)):
        contract, found = parse_contract(path, root)
        problems.extend(found)
        if contract is not None:
            contracts.append(contract)
    problems += overlapping_versions(contracts)
    for c in contracts:
        problems += unreachable_terms(c)
        if any(t.method in _PLACED for t in c.terms) and not (c.medicare_zip or c.medicare_locality):
            problems.append(
                Problem(
                    str(c.file),
                    c.line,
                    "percent_of_medicare or percent_of_dmepos terms but no medicare zip or locality",
                    'medicare: {zip: "10001"} (until then the practice zip of underpay.toml is used)',
                    "warning",
                )
            )
    if con is not None:
        problems += unknown_codes(contracts, con)
        problems += schedule_terms_that_never_price(contracts, con)
    problems += read_roster(Path(folder))[1]
    problems += read_appeal_rules(Path(folder))[1]
    return problems


def _overlap(a: Contract, b: Contract) -> bool:
    if not (set(a.payer_ids) & set(b.payer_ids) or set(a.payer_names) & set(b.payer_names)):
        return False
    if a.payee_tins and b.payee_tins and not set(a.payee_tins) & set(b.payee_tins):
        return False
    return a.effective <= (b.expires or _FAR) and b.effective <= (a.expires or _FAR)


def overlapping_versions(contracts: list[Contract]) -> list[Problem]:
    out = []
    ordered = sorted(contracts, key=lambda c: (c.effective, str(c.file)))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if _overlap(a, b):
                payer = ", ".join(
                    sorted(set(a.payer_ids) & set(b.payer_ids)) or sorted(set(a.payer_names) & set(b.payer_names))
                )
                out.append(
                    Problem(
                        str(b.file),
                        b.lines.get("effective", b.line),
                        f"version effective {b.effective} overlaps {a.file.name} ({a.effective} to "
                        f"{a.expires or 'open-ended'}) for payer {payer}",
                        f"{a.file.name} to expire on {b.effective - dt.timedelta(days=1)} (the day before this "
                        f"version starts); until then lines in the overlap use the later version",
                    )
                )
    return out


def _shadows(earlier: Term, later: Term) -> bool:
    if earlier.modifiers and not (later.modifiers and set(later.modifiers) <= set(earlier.modifiers)):
        return False
    if earlier.setting and earlier.setting != later.setting:
        return False
    return all(any(e.covers(spec) for e in earlier.codes) for spec in later.codes)


def unreachable_terms(contract: Contract) -> list[Problem]:
    """A warning for each term that an earlier one always takes first (the earliest such term).

    Near-linear: an earlier term can only shadow a later one if it covers the later term's first
    code spec, so candidates come from an index of the terms by code (``_TermIndex``) instead of
    every earlier term (20,000 one-code terms took minutes that way)."""
    index = _TermIndex(contract.terms)
    out = []
    for later in contract.terms:
        earlier = index.first_shadowing(later) if later.codes else None
        if earlier is not None:
            out.append(
                Problem(
                    str(contract.file),
                    later.line,
                    f"term {later.index} can never match: term {earlier.index} (line {earlier.line}) "
                    f"takes all its codes first",
                    "more specific terms above broader ones (first match wins)",
                    "warning",
                )
            )
    return out


class _TermGroup:
    """The terms of one (setting, modifiers) condition, indexed by the codes they name.

    Positions are 0-based places in ``contract.terms``, each list ascending."""

    def __init__(self) -> None:
        self.wildcard: list[int] = []  # terms naming "*"
        self.single: dict[str, list[int]] = defaultdict(list)  # code -> terms naming exactly it
        self.by_range: dict[tuple[str, str], list[int]] = defaultdict(list)  # (low, high) -> terms
        self.ranges: list[tuple[str, str]] = []  # distinct ranges by low (built by freeze)
        self.lows: list[str] = []
        self.reach: list[str] = []  # reach[i] = highest `high` among ranges[: i + 1]

    def add(self, pos: int, term: Term) -> None:
        for spec in term.codes:
            if spec.text == "*":
                self.wildcard.append(pos)
            elif spec.low == spec.high:
                self.single[spec.low].append(pos)
            else:
                self.by_range[(spec.low, spec.high)].append(pos)

    def freeze(self) -> None:
        self.ranges = sorted(self.by_range)
        self.lows = [low for low, _ in self.ranges]
        top = ""
        for _, high in self.ranges:
            top = max(top, high)
            self.reach.append(top)

    def covering(self, low: str, high: str, before: int):
        """Ascending iterators of the terms before ``before`` that have a spec covering low..high."""
        yield _before(self.wildcard, before)
        if not low:  # the spec is "*": only "*" covers it
            return
        if low == high:
            yield _before(self.single.get(low, []), before)
        i = bisect_right(self.lows, low) - 1
        while i >= 0 and self.reach[i] >= high:  # ranges starting at or below `low` that may reach `high`
            r_low, r_high = self.ranges[i]
            if r_high >= high and len(r_low) == len(low):
                yield _before(self.by_range[(r_low, r_high)], before)
            i -= 1


def _before(positions: list[int], before: int):
    return islice(positions, bisect_left(positions, before))


class _TermIndex:
    """Finds, for a term, the earliest earlier term that takes all its lines (see ``_shadows``)."""

    def __init__(self, terms: tuple[Term, ...]):
        self.terms = terms
        self.position = {id(term): pos for pos, term in enumerate(terms)}
        self.groups: dict[tuple, _TermGroup] = {}
        for pos, term in enumerate(terms):
            key = (term.setting, frozenset(term.modifiers) if term.modifiers else None)
            self.groups.setdefault(key, _TermGroup()).add(pos, term)
        for group in self.groups.values():
            group.freeze()

    def first_shadowing(self, later: Term) -> Term | None:
        pos = self.position[id(later)]
        mods = set(later.modifiers) if later.modifiers else None
        first = later.codes[0]
        candidates = []
        for (setting, modifiers), group in self.groups.items():
            if setting is not None and setting != later.setting:
                continue
            if modifiers is not None and not (mods and mods <= modifiers):
                continue
            candidates.extend(group.covering(first.low, first.high, pos))
        last = -1
        for earlier_pos in heapq.merge(*candidates):
            if earlier_pos != last and _shadows(self.terms[earlier_pos], later):
                return self.terms[earlier_pos]
            last = earlier_pos
        return None


def unknown_codes(contracts: list[Contract], con: duckdb.DuckDBPyConnection) -> list[Problem]:
    """Codes named in terms or rate sheets that no imported Medicare schedule lists (warnings)."""
    try:
        known_rows = con.execute("SELECT count(*) FROM mpfs_rvu").fetchone()[0]
    except duckdb.Error:
        return []
    if not known_rows:
        return []
    wanted: list[tuple[str, str, int]] = []  # (code, file, line)
    for c in contracts:
        for t in c.terms:
            wanted += [(s.low, str(c.file), t.line) for s in t.codes if s.text != "*" and s.low == s.high]
        wanted += [(r.code, str(c.rates_file), r.row) for r in c.rates]
    if not wanted:
        return []
    codes = sorted({w[0] for w in wanted})
    known = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT hcpcs FROM mpfs_rvu WHERE list_contains(CAST($codes AS VARCHAR[]), hcpcs)",
            {"codes": codes},
        ).fetchall()
    }
    for sql in _SCHEDULE_CODES.values():  # the lab, drug, DME and facility schedules know codes too
        try:
            known |= {row[0] for row in con.execute(sql).fetchall()}
        except duckdb.Error:  # a warehouse from before these tables
            break
    return [
        Problem(
            file,
            line,
            f"code {code} is not in any imported Medicare fee schedule",
            "a current CPT/HCPCS code (check for typos or deleted codes)",
            "warning",
        )
        for code, file, line in wanted
        if code not in known
    ]


# The table listing each schedule's codes (fee_schedules/sql/schema.sql).
_SCHEDULE_CODES = {
    "asp": "SELECT DISTINCT hcpcs FROM asp_limits",
    "clfs": "SELECT DISTINCT hcpcs FROM clfs_rates",
    "dmepos": "SELECT DISTINCT hcpcs FROM dmepos_fees",
    "opps": "SELECT DISTINCT hcpcs FROM opps_rates",
    "asc": "SELECT DISTINCT hcpcs FROM asc_rates",
}


def schedule_terms_that_never_price(contracts: list[Contract], con: duckdb.DuckDBPyConnection) -> list[Problem]:
    """A warning for each percent_of_<schedule> term none of whose codes that schedule lists (a
    percent_of_asp term on lab codes), when the schedule is imported; and for a code it names that
    another schedule lists instead."""
    listed: dict[str, list[str]] = {}
    for schedule, sql in _SCHEDULE_CODES.items():
        try:
            listed[schedule] = sorted(r[0] for r in con.execute(sql).fetchall())
        except duckdb.Error:
            return []
    out = []
    for c in contracts:
        for t in c.terms:
            schedule = SCHEDULE_METHODS.get(t.method or "")
            if schedule is None or not listed[schedule] or any(s.text == "*" for s in t.codes):
                continue
            codes = listed[schedule]
            hits = [
                s
                for s in t.codes
                if bisect_left(codes, s.low) < bisect_right(codes, s.high)
                and any(len(x) == len(s.low) for x in codes[bisect_left(codes, s.low) : bisect_right(codes, s.high)])
            ]
            if hits:
                continue
            where = ""
            single = [s.low for s in t.codes if s.low == s.high]
            others = [o for o, cs in listed.items() if o != schedule and any(x in cs for x in single)]
            if others:
                where = f"; {', '.join(single)} is priced by {SCHEDULE_LABELS[others[0]]}"
            out.append(
                Problem(
                    str(c.file),
                    t.line,
                    f"term {t.index} ({t.method}) can never price: {SCHEDULE_LABELS[schedule]} lists none of its codes"
                    + where,
                    f"codes {SCHEDULE_LABELS[schedule]} prices, or percent_of_medicare (each code from its own schedule)",
                    "warning",
                )
            )
    return out
