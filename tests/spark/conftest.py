"""A local Spark session for the tests of the Spark engine (one per test process; skips in one line
where no Java runtime is installed: `make test` installs Debian's OpenJDK 17 JRE where it can, and
CI requires it), and the two data sets of the sameness tests."""

from __future__ import annotations

import os
import shutil

import pytest


def _java() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and os.path.exists(os.path.join(home, "bin", "java"))))


def _unavailable(why: str) -> None:
    """Skip, saying why in one line; in CI (UNDERPAY_REQUIRE_SPARK set by .ci/run) fail instead."""
    if os.environ.get("UNDERPAY_REQUIRE_SPARK"):
        pytest.fail(f"{why} (UNDERPAY_REQUIRE_SPARK is set: the Spark tests must run)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def spark():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable("pyspark not installed: pip install -e '.[test]'")
    if not _java():
        _unavailable("no Java runtime for local Spark: apt-get install openjdk-17-jre-headless (make test does)")
    from pipelines.spark.session import spark_session

    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# --- the two data sets of the sameness tests ----------------------------------------------------

PRACTICE_ZIP = "10001"  # the demo practice's ZIP (pipelines.runs.demo.DEMO_ZIP)


def _settings(folder):
    from pipelines.core.config import Settings

    return Settings(warehouse=folder / "warehouse.duckdb", contracts=folder / "contracts", practice_zip=PRACTICE_ZIP)


@pytest.fixture(scope="session")
def practice_template(tmp_path_factory, cms_dir):
    """The demo practice's fee schedules (2025 MPFS, CLFS, ASP, DMEPOS) and example contracts,
    imported once; skips (one line, from cms_dir) without the CMS files."""
    from pipelines.core.warehouse import connect
    from pipelines.runs.demo import cms_mirror, copy_contracts, import_fee_schedule, import_other_schedules

    folder = tmp_path_factory.mktemp("practice")
    copy_contracts(folder / "contracts")
    con = connect(folder / "warehouse.duckdb")
    try:
        import_fee_schedule(con, cms_mirror())
        import_other_schedules(con, None)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return folder


def _with_remittances(template, folder, **spec):
    """A copy of ``template`` with synthetic 835s for the demo practice's payers and prices written
    and loaded through the real ingest."""
    from pipelines.core.warehouse import connect
    from pipelines.ingest.load import ingest_paths
    from pipelines.runs.demo import contract_prices, demo_codes
    from pipelines.synthetic.writer import SynthSpec, default_payers, write_remittances

    shutil.copytree(template, folder)
    settings = _settings(folder)
    payers = default_payers()
    codes = demo_codes()
    prices = contract_prices(settings, payers, codes)
    write_remittances(
        SynthSpec(payers=payers, prices=prices, codes=list(dict.fromkeys(c for c, _ in codes)), **spec),
        folder / "inbox",
    )
    con = connect(settings.warehouse)
    try:
        ingest_paths(sorted((folder / "inbox").glob("*.835")), con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return folder


@pytest.fixture(scope="session")
def demo_practice(practice_template, tmp_path_factory):
    """What `make demo` loads: the demo practice's three months, 1,000 claims a month (seed 7)."""
    import datetime as dt

    return _with_remittances(
        practice_template,
        tmp_path_factory.mktemp("demo") / "w",
        start=dt.date(2025, 1, 1),
        months=3,
        claims_per_month=1000,
        seed=7,
        underpay_rate=0.04,
    )


@pytest.fixture(scope="session")
def generated_month(practice_template, tmp_path_factory):
    """One month of service (July 2025) of over 100,000 lines for the same practice, with
    same-day multiple procedures (claim-level Medicare pricing) and secondary claims."""
    import datetime as dt

    return _with_remittances(
        practice_template,
        tmp_path_factory.mktemp("month100k") / "w",
        start=dt.date(2025, 7, 1),
        months=1,
        claims_per_month=38_000,
        seed=11,
        underpay_rate=0.04,
        mppr_rate=0.05,
        secondary_rate=0.02,
    )
