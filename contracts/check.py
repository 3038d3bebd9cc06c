"""`underpay contracts check`: every problem in a contracts folder, as ``file:line: what, expected``.

Beyond the per-file checks of contracts.model: versions of one payer's contract whose dates
overlap, terms that can never match (an earlier term takes all their codes), and codes the
Medicare fee schedule does not know (when a warehouse with mpfs_rvu rows is given).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from contracts.model import Contract, Problem, Term, contract_files, parse_contract

_FAR = dt.date(9999, 12, 31)


def check_folder(folder, con: duckdb.DuckDBPyConnection | None = None) -> list[Problem]:
    """All problems (errors and warnings) of the contracts under ``folder``."""
    problems: list[Problem] = []
    contracts: list[Contract] = []
    for path in contract_files(Path(folder)):
        contract, found = parse_contract(path)
        problems.extend(found)
        if contract is not None:
            contracts.append(contract)
    problems += overlapping_versions(contracts)
    for c in contracts:
        problems += unreachable_terms(c)
        if any(t.method == "percent_of_medicare" for t in c.terms) and not (c.medicare_zip or c.medicare_locality):
            problems.append(
                Problem(
                    str(c.file),
                    c.line,
                    "percent_of_medicare terms but no medicare zip or locality",
                    'medicare: {zip: "10001"} (until then the practice zip of underpay.toml is used)',
                    "warning",
                )
            )
    if con is not None:
        problems += unknown_codes(contracts, con)
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
    out = []
    for j, later in enumerate(contract.terms):
        for earlier in contract.terms[:j]:
            if later.codes and _shadows(earlier, later):
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
                break
    return out


def unknown_codes(contracts: list[Contract], con: duckdb.DuckDBPyConnection) -> list[Problem]:
    """Codes named in terms or rate sheets that no imported MPFS release lists (warnings)."""
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
