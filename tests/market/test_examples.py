"""Every CMS example in-network file (schema 1.x and 2.0 layouts, ../shared/tic) imports, and the figures in
market_rates equal the file's as the tests' own reader (tests/market/reader.py) reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipelines.market.load import import_in_network, import_market, practice_codes
from pipelines.market.rates import Keep
from tests.conftest import SHARED
from tests.market.conftest import counts
from tests.market.reader import all_codes, expected_rows, load, stored_rows

EXAMPLES = sorted(
    str(p.relative_to(SHARED / "tic")) for p in (SHARED / "tic").glob("v*/examples/in-network-rates/*.json")
) or ["v2.2.0/examples/in-network-rates/in-network-rates-all-negotiated-types-sample.json"]
ALL_TYPES = "v2.2.0/examples/in-network-rates/in-network-rates-all-negotiated-types-sample.json"


def _one(con, path, **kw):
    result = import_market(con, [path], **kw)
    assert [f.status for f in result.files] == ["imported"], [f.reason for f in result.files]
    return result.files[0]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_imports_with_the_files_figures(con, tic, name):
    """Every price of every code, professional and institutional: the rows are the reader's, one for one."""
    path = tic / name
    doc = load(path)
    f = _one(con, path, codes=all_codes(doc), institutional=True)
    expected = expected_rows(doc, all_codes(doc), classes=("professional", "institutional", "both"))
    assert stored_rows(con, f.sha256) == expected
    assert f.rates == sum(expected.values()) > 0
    assert f.items_read == len(doc["in_network"])
    row = con.execute(
        "SELECT file_name, schema_version, reporting_entity, last_updated_on, rates, items_read FROM market_files"
    ).fetchall()
    assert row == [(path.name, doc["version"], doc["reporting_entity_name"], _date(doc["last_updated_on"]),
                    f.rates, len(doc["in_network"]))]  # fmt: skip
    plan = con.execute("SELECT DISTINCT plan_name, plan_id FROM market_rates").fetchall()
    assert plan == [(doc.get("plan_name"), doc.get("plan_id"))]


@pytest.mark.parametrize("name", EXAMPLES)
def test_professional_prices_only_by_default(con, tic, name):
    path = tic / name
    doc = load(path)
    f = _one(con, path, codes=all_codes(doc))
    assert stored_rows(con, f.sha256) == expected_rows(doc, all_codes(doc))
    classes = {r[0] for r in con.execute("SELECT DISTINCT billing_class FROM market_rates").fetchall()}
    assert classes <= {"professional", "both"}


def test_institutional_prices_on_request(con, tic):
    path = tic / ALL_TYPES
    _one(con, path, codes=["0200", "27447"])
    assert con.execute("SELECT count(*) FROM market_rates WHERE billing_class = 'institutional'").fetchall() == [(0,)]
    con.execute("DELETE FROM market_rates")
    con.execute("DELETE FROM market_files")
    _one(con, path, codes=["0200", "27447"], institutional=True)
    got = con.execute(
        "SELECT billing_code, negotiated_type, negotiated_rate, tin FROM market_rates "
        "WHERE billing_class = 'institutional' ORDER BY ALL"
    ).fetchall()
    assert got == [
        ("0200", "per diem", Decimal("5500.0000"), "34-5678901"),
        ("27447", "negotiated", Decimal("12000.0000"), "12-3456789"),
        ("27447", "negotiated", Decimal("12000.0000"), "23-4567890"),
        ("27447", "negotiated", Decimal("12000.0000"), "34-5678901"),
    ]


def test_codes_filter_keeps_only_those_codes(con, tic):
    path = tic / ALL_TYPES
    doc = load(path)
    f = _one(con, path, codes=["99214", " 80053 "])
    assert {r[0] for r in con.execute("SELECT DISTINCT billing_code FROM market_rates").fetchall()} == {
        "99214",
        "80053",
    }
    assert stored_rows(con) == expected_rows(doc, {"99214", "80053"})
    assert (f.items_kept, f.items_read) == (2, 6)


def test_default_codes_are_the_practices_service_lines(con, tic):
    """Without --codes: the procedure codes of the loaded 835 lines; none loaded -> refused, nothing read."""
    from pipelines.core.errors import UnderpayError

    with pytest.raises(UnderpayError, match="no billing codes to keep"):
        import_market(con, [tic / ALL_TYPES])
    assert counts(con) == (0, 0)
    con.execute(
        "INSERT INTO service_lines (line_id, claim_id, payment_id, file_id, segment_number, line_number, "
        "procedure_code, units) VALUES (1, 1, 1, 1, 1, 1, '99214', 1), (2, 1, 1, 1, 2, 2, 'j3301 ', 1), "
        "(3, 1, 1, 1, 3, 3, NULL, 1)"
    )
    assert practice_codes(con) == frozenset({"99214", "J3301"})
    _one(con, tic / ALL_TYPES)
    assert con.execute("SELECT DISTINCT billing_code FROM market_rates").fetchall() == [("99214",)]


def test_percentages_become_dollars_only_on_a_stated_base(con, tic, tmp_path):
    """97110 is 65% "of billed charges" and 99285 75.5% with nothing said: no dollars, and why; a file that
    states "80% of $150.00" gets $120.00."""
    path = tic / ALL_TYPES
    _one(con, path, codes=["97110", "99285", "99214"])
    got = dict(
        con.execute(
            "SELECT DISTINCT billing_code, (rate_in_dollars, dollars_basis) FROM market_rates ORDER BY ALL"
        ).fetchall()
    )
    assert got["99214"] == (Decimal("150.00"), None)
    assert got["97110"][0] is None and "billed charges" in got["97110"][1]
    assert got["99285"] == (None, "75.5% with no basis stated in the file")
    doc = load(path)
    doc["in_network"][1]["negotiated_rates"][0]["negotiated_prices"][0]["additional_information"] = (
        "80% of $150.00 base rate"
    )
    doc["in_network"][1]["negotiated_rates"][0]["negotiated_prices"][0]["negotiated_rate"] = 80
    stated = tmp_path / "stated.json"
    stated.write_text(_dumps(doc))
    f = _one(con, stated, codes=["97110"])
    assert con.execute(
        "SELECT DISTINCT negotiated_rate, rate_in_dollars, dollars_basis FROM market_rates WHERE source_sha256 = ?",
        [f.sha256],
    ).fetchall() == [
        (Decimal("80.0000"), Decimal("120.00"), "80% of $150.00, the base its additional_information states")
    ]


def test_tin_only_contract_counts_no_npi(con, tic):
    """1.x ``"npi": [0]``: a TIN-only contract -> npi_count 0 with the TIN; 2.0 ``tin.type npi``: the NPI as TIN."""
    _one(
        con, tic / "v1.6.2/examples/in-network-rates/in-network-rates-no-npi.json", codes=["27447"], institutional=True
    )
    _one(
        con, tic / "v2.2.0/examples/in-network-rates/in-network-rates-no-npi.json", codes=["27447"], institutional=True
    )
    assert sorted(con.execute("SELECT tin, npi_count FROM market_rates").fetchall()) == [
        ("11-1111111", 0),
        ("1234567890", 1),
    ]


def test_npi_and_tin_filters_keep_only_those_groups(con, tic):
    path = tic / ALL_TYPES
    doc = load(path)
    keep = Keep.of(all_codes(doc), npis=[4567890123], tins=["345678901"])  # an NPI of 23-4567890; 34-5678901
    f = import_in_network(con, path, keep)
    tins = {r[0] for r in con.execute("SELECT DISTINCT tin FROM market_rates").fetchall()}
    assert tins == {"23-4567890", "34-5678901"}
    assert f.rates == sum(n for row, n in expected_rows(doc, all_codes(doc)).items() if row[8] in tins)


def _date(text):
    from datetime import date

    return date.fromisoformat(text)


def _dumps(doc) -> str:
    import json

    return json.dumps(doc, default=lambda d: float(d) if d % 1 else int(d))


def test_progress_reports_the_bytes_read(con, tic):
    path = tic / ALL_TYPES
    seen = []
    _one(
        con,
        path,
        codes=["99214"],
        chunk_bytes=1000,
        progress=lambda name, done, total: seen.append((name, done, total)),
    )
    size = path.stat().st_size
    assert {name for name, _, _ in seen} == {path.name} and {total for _, _, total in seen} == {size}
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == size and len(done) >= size // 1000
