"""Proposal files for the negotiation pack: what the practice asks the payer to pay.

Two formats (docs/reports.md has examples):

* CSV rate table, header ``code,modifier,rate`` (modifier may be blank or the column left out):
  a rate per unit for each code; ``modifier`` is '', '26' or 'TC' (the priced component).
  A rate cell may name a market figure instead of an amount: ``market:p75`` (see below).
* YAML::

      market: p75                     # optional: codes without a rate below ask this market figure
      percent_of_medicare: 130        # optional: codes without a rate below (or without market rates)
      rates:                          # optional list of per-unit rates (win over market and percent)
        - {code: "99213", rate: 98.50}
        - {code: "99214", rate: "market:median"}
        - {code: "71046", modifier: "26", rate: 14.00}
      rates_csv: rates.csv            # optional: a CSV rate table as above, relative to this file

Market figures are ``p10``, ``p25``, ``median``, ``p75`` and ``p90`` of the rates payers publish
for the code (the negotiation pack's Market section, reports.negotiate.MarketCode): this payer's
published rates when it has any for the code, else every payer's; the proposal row says which
and how many. Each is one of the published rates (nearest-rank), so it is exact to the cent.

A code's rate is found in this order: its rate (code and modifier, then the code alone; an
amount, or a market figure, which prices nothing when the code has no published rate), then
``market`` (when the code has published rates), then ``percent_of_medicare``.

Rates are Decimal; a proposed rate from the percent is the Medicare amount x percent,
rounded half-up to the cent. Values that are neither an amount nor a known market figure are
refused with the file, row and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from contracts.files import FileRefused, brief, decode_utf8, read_limited
from contracts.yamlfile import YamlSyntaxError, load_yaml
from pipelines.core.errors import InputFileError
from pipelines.core.money import percent_of

PRICED_MODIFIERS = ("", "26", "TC")
MAX_RATE = Decimal("1000000000")  # a proposed rate per unit at or above $1bn is a typo, not a proposal
MARKET_STATS = ("p10", "p25", "median", "p75", "p90")  # the market figures a proposal may name
MARKET_EXPECTED = "market:" + ", market:".join(MARKET_STATS[:-1]) + " or market:" + MARKET_STATS[-1]


@dataclass(frozen=True)
class MarketRate:
    """A proposed rate that is a figure of the code's published market (``market:p75``)."""

    stat: str  # one of MARKET_STATS

    def __str__(self) -> str:
        return f"market:{self.stat}"


@dataclass
class Proposal:
    source: str
    rates: dict[tuple[str, str], Decimal | MarketRate] = field(default_factory=dict)
    percent_of_medicare: Decimal | None = None
    market: str | None = None  # market figure for codes without a rate (one of MARKET_STATS)

    def describe(self) -> str:
        parts = []
        if self.rates:
            parts.append(f"{len(self.rates)} code rates")
        if self.market is not None:
            parts.append(f"the market {self.market}" + (" for the other codes" if self.rates else ""))
        if self.percent_of_medicare is not None:
            others = " for the other codes" if self.rates or self.market else ""
            parts.append(f"{self.percent_of_medicare}% of Medicare{others}")
        return f"{Path(self.source).name}: " + ", ".join(parts)

    def rate_for(self, code: str, modifier: str, medicare: Decimal | None, market=None) -> tuple[Decimal | None, str]:
        """(proposed rate per unit, how it was found) for one code and pricing modifier.

        ``market``: the code's published market (reports.negotiate.MarketCode, or None when no payer
        publishes a rate for it); ``market.stat(name)`` returns (figure, where it came from)."""
        for key in ((code, modifier), (code, "")):
            if key in self.rates:
                how = "rate table" + (f" ({code} without modifier)" if key[1] != modifier else "")
                value = self.rates[key]
                if not isinstance(value, MarketRate):
                    return value, how
                if market is None:
                    return None, f"{how}: no market rates for {value}"
                rate, where = market.stat(value.stat)
                return rate, f"{how}: {where}"
        if self.market is not None and market is not None:
            rate, where = market.stat(self.market)
            if rate is not None:
                return rate, where
        if self.percent_of_medicare is not None:
            if medicare is None:
                return None, "no Medicare amount for the percent"
            rate = percent_of(medicare, self.percent_of_medicare)
            return rate, f"{self.percent_of_medicare}% of Medicare"
        if self.market is not None:
            return None, f"no market rates for market:{self.market}"
        return None, "not in the proposal"


def _decimal(text, path, row, column) -> Decimal:
    try:
        value = Decimal(str(text).strip().replace("$", "").replace(",", ""))
    except (InvalidOperation, ValueError):
        raise InputFileError(
            path,
            "not a number",
            row=row,
            column=column,
            expected="an amount such as 98.50",
            found=brief(text),
            hint="Fix the value and run the command again.",
        ) from None
    if value < 0 or not value.is_finite() or value >= MAX_RATE:
        raise InputFileError(
            path,
            "negative or infinite amount",
            row=row,
            column=column,
            expected="an amount of 0 or more, below 1,000,000,000",
            found=brief(text),
        )
    return value


def _market_stat(text, path, row, column) -> str:
    """The figure of ``market:<figure>`` (or of the YAML ``market`` key's bare value)."""
    stat = str(text).strip().lower().removeprefix("market:").strip()
    if stat not in MARKET_STATS:
        raise InputFileError(
            path,
            "unknown market figure",
            row=row,
            column=column,
            expected=MARKET_EXPECTED,
            found=brief(text),
        )
    return stat


def _rate(text, path, row, column) -> Decimal | MarketRate:
    """A rate cell: an amount, or ``market:<figure>``."""
    if isinstance(text, str) and text.strip().lower().startswith("market"):
        return MarketRate(_market_stat(text, path, row, column))
    return _decimal(text, path, row, column)


def _modifier(text, path, row) -> str:
    mod = (text or "").strip().upper()
    if mod not in PRICED_MODIFIERS:
        raise InputFileError(
            path,
            "modifier does not select a priced component",
            row=row,
            column="modifier",
            expected="blank, 26 or TC",
            found=brief(text),
        )
    return mod


def _code(text, path, row) -> str:
    code = (text or "").strip().upper()
    if not (len(code) == 5 and code.isalnum()):
        raise InputFileError(
            path,
            "not a CPT/HCPCS code",
            row=row,
            column="code",
            expected="5 letters/digits such as 99213 or G0439",
            found=brief(text),
        )
    return code


def _read_text(path: Path, *, follow_links: bool = True) -> str:
    """The text of a proposal or its rate sheet, read the way contracts are (contracts.files): a
    regular file of bounded size (never a FIFO or device, which would block or never end), UTF-8."""
    try:
        return decode_utf8(read_limited(path, follow_links=follow_links, what=path.name)).removeprefix("\ufeff")
    except FileRefused as exc:
        raise InputFileError(path, exc.message, row=exc.line, expected=exc.expected) from None


def read_rate_csv(path: Path, *, follow_links: bool = True) -> dict[tuple[str, str], Decimal | MarketRate]:
    path = Path(path)
    text = _read_text(path, follow_links=follow_links)
    try:
        return _rate_rows(path, csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputFileError(
            path, f"not a CSV rate table ({exc})", expected="a header row code,modifier,rate"
        ) from None


def _rate_rows(path: Path, reader: csv.DictReader) -> dict[tuple[str, str], Decimal | MarketRate]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "code" not in header or "rate" not in header:
        raise InputFileError(
            path,
            "missing header",
            row=1,
            expected="a header row code,modifier,rate",
            found=brief(",".join(reader.fieldnames or [])) if reader.fieldnames else "an empty file",
        )
    rates: dict[tuple[str, str], Decimal | MarketRate] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): v for k, v in raw.items() if k}
        if not any((v or "").strip() for v in row.values()):
            continue
        key = (_code(row.get("code"), path, n), _modifier(row.get("modifier"), path, n))
        if key in rates:
            raise InputFileError(
                path,
                f"code {key[0]} {key[1] or '(no modifier)'} listed twice",
                row=n,
                hint="Keep one rate per code and modifier.",
            )
        rates[key] = _rate(row.get("rate"), path, n, "rate")
    return rates


def _sheet_path(path: Path, raw) -> Path:
    """The rate sheet ``rates_csv`` names, resolved, when it lies in the proposal's folder; else an
    error that does not open it (so no message can show another file's content)."""
    expected = "a CSV file in the proposal's folder, named relative to the proposal"
    name = Path(str(raw).strip()) if isinstance(raw, str) and "\0" not in raw else None
    if name is None or name.is_absolute() or ".." in name.parts or str(raw).strip().startswith("~"):
        raise InputFileError(path, f"rates_csv {brief(raw)} points outside the proposal's folder", expected=expected)
    try:
        real = (path.parent / name).resolve()
        inside = real.is_relative_to(path.parent.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise InputFileError(
            path, f"rates_csv {brief(raw)} is a link that leads outside the proposal's folder", expected=expected
        )
    return real


def load_proposal(path) -> Proposal:
    """Read a proposal file (.csv rate table, or .yaml/.yml)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "proposal file not found", hint="Pass --proposal with a CSV or YAML file.")
    if path.suffix.lower() == ".csv":
        return Proposal(str(path), rates=read_rate_csv(path))
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise InputFileError(
            path,
            "unknown proposal format",
            expected="a .csv rate table or a .yaml file",
            found=path.suffix or "no extension",
        )
    try:  # the contracts' loader: duplicate keys, alias bombs and deep nesting are refused on their line
        data = load_yaml(path) or {}
    except YamlSyntaxError as exc:
        raise InputFileError(path, exc.message, row=exc.line, expected=exc.expected) from None
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping", expected="keys market, percent_of_medicare, rates, rates_csv")
    unknown = set(data) - {"market", "percent_of_medicare", "rates", "rates_csv", "name"}
    if unknown:
        raise InputFileError(
            path,
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}",
            expected="market, percent_of_medicare, rates, rates_csv (and name)",
        )
    proposal = Proposal(str(path))
    if data.get("market") is not None:
        proposal.market = _market_stat(data["market"], path, None, "market")
    if data.get("percent_of_medicare") is not None:
        proposal.percent_of_medicare = _decimal(data["percent_of_medicare"], path, None, "percent_of_medicare")
    if data.get("rates_csv"):
        proposal.rates.update(read_rate_csv(_sheet_path(path, data["rates_csv"]), follow_links=False))
    for i, item in enumerate(data.get("rates") or [], start=1):
        if not isinstance(item, dict) or "code" not in item or "rate" not in item:
            raise InputFileError(
                path,
                f"rates entry {i} is not a mapping with code and rate",
                column="rates",
                expected='{code: "99213", rate: 98.50}',
                found=brief(item),
            )
        key = (_code(str(item["code"]), path, None), _modifier(str(item.get("modifier") or ""), path, None))
        proposal.rates[key] = _rate(item["rate"], path, None, f"rates[{i}].rate")
    if not proposal.rates and proposal.percent_of_medicare is None and proposal.market is None:
        raise InputFileError(path, "the proposal sets no rate", expected="market, percent_of_medicare or rates")
    return proposal
