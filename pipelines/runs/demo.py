"""`underpay demo`: a small practice's quarter, end to end, in a fresh folder.

1. Copy the example contracts (contracts/examples/) into ``<out>/contracts``.
2. Import the 2025 CMS Physician Fee Schedule, and the 2025 lab (CLFS), drug (ASP) and DMEPOS
   files, into ``<out>/warehouse.duckdb`` from a local mirror (``--cms-mirror``,
   ``$UNDERPAY_CMS_MIRROR`` or ``../shared/cms`` beside the project) or, when there is none,
   the download cache or cms.gov.
3. Work out each payer's contract price for every code the practice bills, by running the
   real comparison (``pipelines.compare.compare``) over one probe line per payer, code and setting in
   a scratch copy of the warehouse, so the synthetic payers pay exactly what the contracts
   say except where an underpayment is injected.
4. Write a quarter (January-March 2025 dates of service) of synthetic 835 files into
   ``<out>/inbox`` and run the nightly pipeline over it: ingest -> validate -> archive ->
   compare -> monthly reports under ``<out>/reports/YYYY-MM/``.
5. Write payers' published in-network rates for the practice's codes (Transparency in Coverage
   JSON, schema 2.0, around 90-160% of 2025 Medicare at the practice's ZIP) into ``<out>/market``
   with pipelines.synthetic.market, and import them as `underpay market import` does.
6. Write the negotiation pack of ``NEGOTIATION_PAYER`` (its Market section shows those rates)
   into ``<out>/reports/``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.core.config import Settings
from pipelines.core.errors import UnderpayError
from pipelines.core.money import MONEY
from pipelines.core.sql import arrow_view
from pipelines.core.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]  # the checkout: pipelines/runs/demo.py
EXAMPLE_CONTRACTS = ROOT / "contracts" / "examples"
DEMO_YEAR = 2025
DEMO_START = date(2025, 1, 1)
DEMO_MONTHS = 3
DEMO_ZIP = "10001"
PROBE_DATE = date(2025, 2, 14)  # contract prices are those in force mid-quarter
OFFICE_POS, FACILITY_POS = "11", "22"
NEGOTIATION_PAYER = "ACME1"  # the payer whose negotiation pack the demo writes
MARKET_UPDATED = date(2025, 1, 1)  # last_updated_on of the demo's in-network files


@dataclass
class DemoResult:
    out_dir: Path
    warehouse: Path
    files: int = 0
    claims: int = 0
    lines: int = 0
    paid: Decimal = Decimal("0.00")
    underpaid_lines: int = 0
    underpaid_dollars: Decimal = Decimal("0.00")
    denied_lines: int = 0
    injected_underpaid: int = 0
    injected_found: int = 0
    reports: list[Path] = field(default_factory=list)
    negotiation: Path | None = None  # the negotiation pack of NEGOTIATION_PAYER
    market_rates: int = 0  # published rates loaded into market_rates
    exit_code: int = 0
    message: str = ""
    seconds: float = 0.0

    @property
    def report(self) -> Path | None:
        """The report to open first: the busiest payment month."""
        return self.reports[0] if self.reports else None

    def summary(self) -> str:
        lines = [
            f"demo practice (ZIP {DEMO_ZIP}), {DEMO_MONTHS} months of 2025 service dates, "
            f"built in {self.seconds:.1f} s in {self.out_dir}",
            f"  files {self.files}, claims {self.claims:,}, service lines {self.lines:,}, paid ${self.paid:,}",
            f"  underpaid lines {self.underpaid_lines:,} totalling ${self.underpaid_dollars:,}"
            f" (injected {self.injected_underpaid}, found {self.injected_found})",
            f"  denied lines {self.denied_lines:,}",
            f"  warehouse: {self.warehouse}",
        ]
        lines += [f"  report: {p}" for p in self.reports]
        if self.negotiation:
            lines.append(f"  negotiation pack ({self.market_rates:,} published market rates): {self.negotiation}")
        if self.message:
            lines.append(f"  {self.message}")
        if self.report:
            lines.append(f"open the report: {self.report}")
        return "\n".join(lines)


def cms_mirror(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local CMS mirror: the flag, $UNDERPAY_CMS_MIRROR, or ../shared/cms by the project or cwd.

    The look-up is fee_schedules.download.local_mirror, the one the tests use too.
    """
    from fee_schedules.download import DownloadError, local_mirror

    try:
        return local_mirror(DEMO_YEAR, explicit)
    except DownloadError as exc:
        raise UnderpayError(
            f"{explicit}: no {DEMO_YEAR}/ folder of CMS files there; point --cms-mirror at the folder that holds 2025/"
        ) from exc


def import_fee_schedule(con, mirror: Path | None, cache_dir: Path | None = None) -> list:
    """Import every 2025 MPFS release in release order, from where fee_schedules.download.find_release finds it.

    find_release reads a local mirror in place, else the cache (``cache_dir``, default the user's
    download cache), else downloads from cms.gov once (failing fast when offline); import_release
    checks each file's shape (pandera) as it loads it, one transaction per release.
    """
    from fee_schedules.download import find_release, release_folders
    from fee_schedules.importer import import_release

    year_dir = find_release(DEMO_YEAR, mirror, cache_dir=cache_dir)
    return [import_release(con, folder, DEMO_YEAR) for folder in release_folders(year_dir)]


OTHER_SCHEDULES = ("clfs", "asp", "dmepos")  # lab tests, drugs and vaccines, supplies and equipment


def import_other_schedules(con, mirror: str | os.PathLike | None, cache_dir: Path | None = None) -> str:
    """Import the 2025 CLFS, ASP and DMEPOS files from where fee_schedules.download.find_schedule finds them
    (a local mirror, ../shared/cms, the cache, else cms.gov once). A schedule found nowhere is left out:
    the practice then bills none of its codes (contract_prices prices none), and the note says so."""
    from fee_schedules.download import DownloadError, find_schedule
    from fee_schedules.schedule_import import import_schedules

    missing = []
    for schedule in OTHER_SCHEDULES:
        try:
            folder = find_schedule(schedule, DEMO_YEAR, mirror, cache_dir=cache_dir)
        except DownloadError as exc:
            missing.append(f"{schedule} ({exc})")
            continue
        import_schedules(con, folder, schedule)
    if not missing:
        return ""
    return "not imported, so the practice bills none of their codes: " + "; ".join(missing)


def copy_contracts(dest: Path) -> list[Path]:
    if not EXAMPLE_CONTRACTS.is_dir() or not any(EXAMPLE_CONTRACTS.glob("*.y*ml")):
        raise UnderpayError(f"{EXAMPLE_CONTRACTS}: no example contracts found; the demo needs them")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for src in sorted(EXAMPLE_CONTRACTS.iterdir()):
        if src.is_file() and not src.name.startswith("."):
            copied.append(Path(shutil.copy2(src, dest / src.name)))
    return copied


def _fresh(out: Path) -> None:
    """Remove what an earlier demo left in ``out`` (only the demo's own files and folders)."""
    for name in (
        "warehouse.duckdb",
        "warehouse.duckdb.wal",
        "warehouse.duckdb.lock",
        "probe.duckdb",
        "probe.duckdb.wal",
    ):
        (out / name).unlink(missing_ok=True)
    for name in ("inbox", "archive", "quarantine", "reports", "contracts", "cms", "market"):
        shutil.rmtree(out / name, ignore_errors=True)


def run_demo(
    out_dir: str | os.PathLike = "demo-output",
    *,
    claims_per_month: int = 1000,
    seed: int = 7,
    mirror: str | os.PathLike | None = None,
    underpay_rate: float = 0.04,
) -> DemoResult:
    from pipelines.runs.nightly import run_nightly
    from pipelines.synthetic.writer import SynthSpec, default_payers, write_remittances

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _fresh(out)
    settings = Settings(
        warehouse=out / "warehouse.duckdb",
        inbox=out / "inbox",
        archive=out / "archive",
        quarantine=out / "quarantine",
        contracts=out / "contracts",
        reports=out / "reports",
        practice_zip=DEMO_ZIP,
        settle_seconds=0,
    )
    copy_contracts(settings.contracts)
    con = connect(settings.warehouse)
    try:
        import_fee_schedule(con, cms_mirror(mirror))
        schedules_note = import_other_schedules(con, mirror)
        market_rates = load_market(con, out / "market", seed=seed)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    payers = default_payers()
    prices = contract_prices(settings, payers, demo_codes())
    spec = SynthSpec(
        start=DEMO_START,
        months=DEMO_MONTHS,
        claims_per_month=claims_per_month,
        seed=seed,
        payers=payers,
        prices=prices,
        underpay_rate=underpay_rate,
        codes=list(dict.fromkeys(c for c, _ in demo_codes())),
    )
    settings.inbox.mkdir(parents=True, exist_ok=True)
    synth = write_remittances(spec, settings.inbox)
    nightly = run_nightly(settings)
    result = DemoResult(
        out_dir=out,
        warehouse=settings.warehouse,
        exit_code=nightly.exit_code,
        message="\n  ".join(m for m in (schedules_note, "" if nightly.exit_code == 0 else nightly.summary()) if m),
    )
    result.reports = [m.report for m in sorted(nightly.months, key=lambda m: -m.lines) if m.report]
    result.market_rates = market_rates
    negotiation_note = ""
    try:
        result.negotiation = write_negotiation_pack(settings)
    except UnderpayError as exc:
        negotiation_note = f"negotiation pack not written: {exc}"
    if negotiation_note:
        result.message = "\n  ".join(m for m in (result.message, negotiation_note) if m)
    _fill_totals(result, synth.truth)
    result.seconds = time.perf_counter() - t0
    return result


def market_medicare(con) -> dict[tuple[str, str], Decimal]:
    """The 2025 Medicare amount per unit at the demo ZIP (non-facility, mid-quarter) of each physician
    fee schedule code the practice bills, with its 26 and TC components: what the payers' published
    rates are drawn around. Priced as the negotiation pack prices them (reports.negotiate)."""
    from pipelines.synthetic.codes import COMMON_CODES
    from reports.negotiate import medicare_at_location

    keys = [(code, modifier, False) for code, modifier in demo_codes() if code in {c.code for c in COMMON_CODES}]
    amounts, _ = medicare_at_location(con, keys, PROBE_DATE, zip=DEMO_ZIP, locality=None)
    return {k: v for k, v in amounts.items() if v > 0}


def load_market(con, folder: Path, *, seed: int) -> int:
    """Write the demo payers' in-network files (Transparency in Coverage, schema 2.0) into ``folder`` and
    import them as `underpay market import` does (pipelines.market.load.import_market), keeping the
    practice's codes. Returns the market_rates rows imported."""
    from pipelines.market.load import import_market
    from pipelines.synthetic.market import write_in_network_files

    written = write_in_network_files(folder, market_medicare(con), seed=seed, last_updated_on=MARKET_UPDATED)
    result = import_market(con, written.paths, codes=[code for code, _ in demo_codes()])
    if result.exit_code:
        raise UnderpayError(f"demo: the generated in-network files did not import: {result}")
    return result.rates


def write_negotiation_pack(settings: Settings) -> Path:
    """The negotiation pack of NEGOTIATION_PAYER over the latest 12 payment months, at the demo ZIP,
    into the reports folder (as `underpay negotiate --payer ACME1` writes it)."""
    from reports.negotiate import negotiation_pack

    con = connect(settings.warehouse, read_only=True)
    try:
        return negotiation_pack(con, NEGOTIATION_PAYER, out_dir=settings.reports, zip=DEMO_ZIP).html
    finally:
        con.close()


def _fill_totals(result: DemoResult, truth: pl.DataFrame) -> None:
    con = connect(result.warehouse, read_only=True)
    try:
        (result.files, result.claims, result.lines, result.paid) = con.execute(
            "SELECT (SELECT count(*) FROM era_files WHERE status = 'loaded'), (SELECT count(*) FROM claims), "
            "(SELECT count(*) FROM service_lines), "
            "(SELECT coalesce(sum(paid), 0)::DECIMAL(14,2) FROM claims)"
        ).fetchall()[0]
        (result.underpaid_lines, result.underpaid_dollars, result.denied_lines) = con.execute(
            "SELECT count(*) FILTER (WHERE category = 'underpaid'), "
            "coalesce(sum(variance) FILTER (WHERE category = 'underpaid'), 0)::DECIMAL(14,2), "
            "count(*) FILTER (WHERE category = 'denied') FROM variances"
        ).fetchall()[0]
        flagged = pl.from_arrow(
            con.sql("SELECT line_control_number FROM variances WHERE category = 'underpaid'").to_arrow_table()
        )
    finally:
        con.close()
    injected = truth.filter(pl.col("injected") == "underpaid").select("line_control_number")
    result.injected_underpaid = injected.height
    if flagged.height:
        result.injected_found = injected.join(flagged.unique(), on="line_control_number", how="semi").height


def demo_codes() -> list[tuple[str, str]]:
    """(code, pricing modifier) the synthetic practice bills: the writer's common codes, with the
    professional (26) and technical (TC) components of codes that have them."""
    from pipelines.synthetic.codes import COMMON_CODES, SCHEDULE_CODES

    out = []
    for c in COMMON_CODES:
        out.append((c.code, ""))
        if c.has_components:
            out += [(c.code, "26"), (c.code, "TC")]
    out += [(c.code, c.bill_modifier) for c in SCHEDULE_CODES]  # lab, drugs, supplies: the other schedules
    return out


def contract_prices(settings: Settings, payers, codes: list[tuple[str, str]]) -> pl.DataFrame:
    """Each payer's contracted allowed amount per unit for each code, office and facility.

    Probe lines are put into a scratch copy of the demo warehouse and compared with the real
    comparison stage (pipelines.compare.compare); the expected allowed amounts it computes are the
    prices, so the demo's payers pay exactly what the contracts say. Each payer x code x
    setting is probed twice: billed high (so lesser-of never binds: the price of rate, rate
    sheet and percent-of-Medicare terms) and billed at the synthetic practice's chargemaster
    price (the price of percent-of-charges terms, which follow the charge). Codes a contract
    leaves unpriced or carves out are left out: the writer bills a payer only priced codes.
    """
    from pipelines.compare.compare import compare

    probe_db = settings.warehouse.with_name("probe.duckdb")
    shutil.copy(settings.warehouse, probe_db)
    try:
        con = connect(probe_db)
        try:
            probe = _insert_probe(con, payers, codes)
            compare(con, settings.contracts, settings=settings)
            priced = pl.from_arrow(con.sql(PROBE_PRICES).to_arrow_table())
        finally:
            con.close()
    finally:
        for p in (probe_db, probe_db.with_name(probe_db.name + ".wal")):
            p.unlink(missing_ok=True)
    keys = ["payer_id", "procedure_code", "modifier", "facility"]
    lines = probe.join(priced, on="line_id", how="inner").with_columns(
        pl.col("modifiers").list.first().fill_null("").alias("modifier")
    )
    high = lines.filter(pl.col("billed_high"))
    at_charge = lines.filter(~pl.col("billed_high")).select(*keys, pl.col("unit_allowed").alias("at_charge"))
    got = (
        high.join(at_charge, on=keys, how="left")
        .select(
            *keys,
            pl.when(pl.col("method") == "percent_of_charges")
            .then(pl.col("at_charge"))
            .otherwise(pl.col("unit_allowed"))
            .alias("unit_allowed"),
        )
        .drop_nulls("unit_allowed")
        .sort(keys)
    )
    if got.is_empty():
        raise UnderpayError(
            "demo: the example contracts priced none of the demo codes; "
            "check contracts/examples/ against the demo payers"
        )
    return got.with_columns(pl.col("unit_allowed").cast(MONEY))


# Probe results: the contract price and method of each probe line the contracts price.
PROBE_PRICES = """
SELECT line_id, expected_allowed AS unit_allowed, method
FROM variances
WHERE expected_allowed IS NOT NULL AND expected_allowed > 0
"""
HIGH_CHARGE = Decimal("99999.99")


def _insert_probe(con, payers, codes: list[tuple[str, str]]) -> pl.DataFrame:
    """One loaded file, one payment per payer, one single-line claim per code, setting and charge."""
    from pipelines.synthetic.codes import lookup
    from pipelines.synthetic.writer import unit_charge  # the synthetic practice's chargemaster price

    rows = []
    for p_i, payer in enumerate(payers, start=1):
        for code, modifier in codes:
            chargemaster = unit_charge(lookup(code), modifier, None)
            for facility in (False, True):
                for billed_high in (True, False):
                    rows.append(
                        {
                            "payment_id": p_i,
                            "payer_id": payer.payer_id,
                            "payer_name": payer.name,
                            "payer_tin": payer.tin,
                            "procedure_code": code,
                            "modifiers": [modifier] if modifier else [],
                            "facility": facility,
                            "billed_high": billed_high,
                            "charge": HIGH_CHARGE if billed_high else chargemaster,
                        }
                    )
    # negative ids: never collide with the ids the loader gives (they count up from 1)
    probe = (
        pl.DataFrame(rows, schema_overrides={"charge": MONEY})
        .with_row_index("line_id", offset=1)
        .with_columns(
            -pl.col("line_id").cast(pl.Int64),
            -pl.col("line_id").cast(pl.Int64).alias("claim_id"),
            -pl.col("payment_id").cast(pl.Int64),
            pl.when(pl.col("facility")).then(pl.lit(FACILITY_POS)).otherwise(pl.lit(OFFICE_POS)).alias("pos"),
        )
    )
    con.register("probe", arrow_view(probe))
    try:
        con.execute(PROBE_FILE)
        con.execute(PROBE_PAYMENTS, {"payment_date": PROBE_DATE, "zip": DEMO_ZIP})
        con.execute(PROBE_CLAIMS)
        con.execute(PROBE_LINES, {"service_date": PROBE_DATE})
    finally:
        con.unregister("probe")
    return probe


PROBE_FILE = """
INSERT INTO era_files (file_id, path, file_name, sha256, size_bytes, loaded_at, status)
VALUES (-1, 'demo-probe', 'demo-probe', 'demo-probe', 0, now(), 'loaded')
"""
# The probe is not parsed from an 835, so it has no segments: the NOT NULL ST ordinal and segment
# numbers are the row's own id made positive (payment -n is the file's n-th transaction).
PROBE_PAYMENTS = """
INSERT INTO payments (payment_id, file_id, transaction_index, segment_number, payer_id, payer_name, payee_name,
                      payee_npi, payee_tin, payee_zip, total_paid, credit_debit, payment_date, trace_number,
                      originating_company_id)
SELECT DISTINCT payment_id, -1, -payment_id, -payment_id, payer_id, payer_name, 'DEMO PROBE', '1234567893',
       '123456789', $zip, 0, 'C', $payment_date, 'PROBE' || payment_id, '1' || payer_tin
FROM probe
"""
PROBE_CLAIMS = """
INSERT INTO claims (claim_id, payment_id, file_id, segment_number, patient_control_number, status_code, charge,
                    paid, patient_responsibility, filing_indicator, payer_claim_number, place_of_service)
SELECT claim_id, payment_id, -1, -claim_id, 'PROBE' || claim_id, '1', charge, 0, 0, 'CI', 'PROBE' || claim_id, pos
FROM probe
"""
PROBE_LINES = """
INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number, qualifier,
                           procedure_code, modifiers, charge, paid, units, service_date, service_date_end,
                           service_date_source, allowed, line_control_number)
SELECT line_id, claim_id, payment_id, -1, -line_id, 1, 'HC', procedure_code, modifiers::VARCHAR[], charge, 0, 1,
       $service_date, $service_date, '472', 0.01, 'PROBE' || line_id
FROM probe
"""
