"""Appeal deadlines per payer: how many days a payer gives to appeal and when its clock starts.

``appeal_rules.yaml`` in the contracts folder (kept in git beside the contracts), every key optional::

    default:                      # payers with no rule of their own (commercial)
      days: 180
      starts: original_remittance # original_remittance | last_adjustment | denial
      source: "most commercial provider manuals: 90-180 days; check each contract"
    medicare:                     # claims the 835 marks Medicare (CLP06 MA or MB) with no payer rule
      days: 120
      starts: original_remittance
      source: "42 CFR 405.942(a): redetermination request within 120 days of receiving the initial determination"
    payers:
      - ids: ["ACME1"]
        days: 90
        starts: denial
        source: "Acme Health provider manual 2025, 7.2"

Without the file (or a key of it) the built-in ``DEFAULT`` and ``MEDICARE`` rules apply; every rule
says its source, and the worklist shows it beside the deadline (docs/worklist.md "Appeal deadlines").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from contracts.files import brief
from contracts.model import APPEAL_RULES_FILE_NAMES, Problem, contracts_root, raise_problems
from contracts.yamlfile import LineDict, LineList, YamlSyntaxError, load_yaml

STARTS = ("original_remittance", "last_adjustment", "denial")
MAX_DAYS = 3650


@dataclass(frozen=True)
class AppealRule:
    days: int
    starts: str
    source: str
    payer_ids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.days} days from the {self.starts.replace('_', ' ')} ({self.source})"


DEFAULT = AppealRule(
    180,
    "original_remittance",
    "underpay's default for commercial payers: most provider manuals allow 90 to 180 days from the "
    "remittance; put each payer's own rule in appeal_rules.yaml",
)
MEDICARE = AppealRule(
    120,
    "original_remittance",
    "42 CFR 405.942(a): a Medicare redetermination is requested within 120 days of receiving the initial "
    "determination (the remittance)",
)


@dataclass(frozen=True)
class AppealRules:
    default: AppealRule = DEFAULT
    medicare: AppealRule = MEDICARE
    payers: tuple[AppealRule, ...] = ()

    def frame(self) -> pl.DataFrame:
        """wl_rules: one row per rule (kind default / medicare / payer) for the worklist SQL."""
        rows = [
            {"kind": "default", "payer_id": None, **_row(self.default)},
            {"kind": "medicare", "payer_id": None, **_row(self.medicare)},
        ]
        rows += [{"kind": "payer", "payer_id": p, **_row(r)} for r in self.payers for p in r.payer_ids]
        return pl.DataFrame(
            rows,
            schema={"kind": pl.Utf8, "payer_id": pl.Utf8, "days": pl.Int32, "starts": pl.Utf8, "label": pl.Utf8},
        )


def _row(rule: AppealRule) -> dict:
    return {"days": rule.days, "starts": rule.starts, "label": rule.label}


def rules_file(folder: Path) -> Path | None:
    root = contracts_root(Path(folder))
    if root is None or not Path(root).is_dir():
        return None
    found = [p for p in sorted(Path(root).iterdir()) if p.name.lower() in APPEAL_RULES_FILE_NAMES and p.is_file()]
    return found[0] if found else None


def load_appeal_rules(folder) -> AppealRules:
    """The rules of ``appeal_rules.yaml`` in the contracts folder, over the built-in defaults; ContractError
    naming file:line for a bad one."""
    rules, problems = read_appeal_rules(folder)
    raise_problems("appeal rules", problems, folder)
    return rules


def read_appeal_rules(folder) -> tuple[AppealRules, list[Problem]]:
    """The rules and every problem of ``appeal_rules.yaml`` (what `underpay contracts check` reports)."""
    path = rules_file(Path(folder)) if folder is not None else None
    if path is None:
        return AppealRules(), []
    problems: list[Problem] = []
    try:
        doc = load_yaml(path)
    except YamlSyntaxError as exc:
        return AppealRules(), [Problem(str(path), exc.line, exc.message, exc.expected)]
    if doc is None:
        return AppealRules(), []
    if not isinstance(doc, LineDict):
        return AppealRules(), [Problem(str(path), 1, "not a mapping", "keys default, medicare, payers")]
    unknown = [k for k in doc if k not in ("default", "medicare", "payers")]
    problems += [
        Problem(str(path), doc.line_of(k), f"unknown key {brief(k)}", "default, medicare or payers") for k in unknown
    ]
    default = _rule(doc.get("default"), doc.line_of("default") if "default" in doc else 1, path, problems, DEFAULT)
    medicare = _rule(doc.get("medicare"), doc.line_of("medicare") if "medicare" in doc else 1, path, problems, MEDICARE)
    payers: list[AppealRule] = []
    raw = doc.get("payers")
    if raw is not None and not isinstance(raw, LineList):
        problems.append(Problem(str(path), doc.line_of("payers"), "payers is not a list", "- ids: [...] with days"))
    for i, item in enumerate(raw or []):
        line = raw.line_of(i)
        if not isinstance(item, LineDict):
            problems.append(
                Problem(str(path), line, f"payer rule {i + 1} is not a mapping", "ids, days, starts, source")
            )
            continue
        ids = item.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(x, str) and x.strip() for x in ids):
            problems.append(
                Problem(str(path), line, f"payer rule {i + 1}: ids {brief(ids)}", 'a list of payer ids, e.g. ["ACME1"]')
            )
            continue
        rule = _rule(item, line, path, problems, None, keys=("ids", "days", "starts", "source"))
        if rule is not None:
            payers.append(AppealRule(rule.days, rule.starts, rule.source, tuple(x.strip() for x in ids)))
    return AppealRules(default or DEFAULT, medicare or MEDICARE, tuple(payers)), problems


def _rule(item, line: int, path: Path, problems: list[Problem], fallback, keys=("days", "starts", "source")):
    if item is None:
        return fallback
    if not isinstance(item, LineDict):
        problems.append(Problem(str(path), line, "a rule is not a mapping", "days, starts, source"))
        return fallback
    for k in item:
        if k not in keys:
            problems.append(Problem(str(path), item.line_of(k), f"unknown key {brief(k)}", ", ".join(keys)))
    days = item.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        problems.append(
            Problem(
                str(path),
                item.line_of("days") if "days" in item else line,
                f"days {brief(days)}",
                f"a whole number of days from 1 to {MAX_DAYS}",
            )
        )
        return fallback
    starts = item.get("starts", "original_remittance")
    if starts not in STARTS:
        problems.append(
            Problem(
                str(path),
                item.line_of("starts") if "starts" in item else line,
                f"starts {brief(starts)}",
                " or ".join(STARTS),
            )
        )
        return fallback
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(Problem(str(path), line, "a rule without its source", 'source: "where the rule comes from"'))
        return fallback
    return AppealRule(days, starts, source.strip())
