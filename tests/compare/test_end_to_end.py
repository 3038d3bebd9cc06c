"""End to end: the synthetic writer's 835s -> ingest -> compare finds exactly the injected lines.

Contract prices are computed here, independently, from the CMS file rows (Decimal, half-up)
and handed to the writer as `spec.prices`; the contracts below state the same terms in YAML.
Precision and recall of the `underpaid` category must both be 100%, and every compared line's
expected allowed amount must equal the price the writer used, to the cent.
"""

from __future__ import annotations

import importlib.util
import pathlib
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest

from pipelines.compare.compare import VarianceRows, compare
from pipelines.core.config import Settings
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.synthetic import codes as codebook
from pipelines.synthetic.writer import SynthSpec, default_payers, write_remittances

_spec = importlib.util.spec_from_file_location("cmp_conftest_e2e", pathlib.Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
cents = _helpers.cents

pytestmark = pytest.mark.slow

COMMON = 'payee_tins: ["123456789"]\neffective: 2025-01-01\ntolerance: {amount: 1.00, percent: 0.5}\n'
CONTRACTS = {
    "medicare.yaml": 'name: Medicare\npayer: {ids: ["13202"]}\n'
    + COMMON
    + 'medicare: {locality: "1320201"}\nlesser_of_charges: true\nmodifier_adjustments: medicare\n'
    'terms:\n  - codes: ["*"]\n    percent_of_medicare: 100\n',
    "acme.yaml": 'name: Acme\npayer: {ids: ["ACME1"]}\n'
    + COMMON
    + 'medicare: {zip: "10001"}\nlesser_of_charges: true\nterms:\n'
    '  - codes: ["20552", "20553"]\n    rate: 118.00\n'
    '  - codes: ["99202-99215"]\n    percent_of_medicare: 125\n'
    '  - codes: ["*"]\n    percent_of_medicare: 120\n',
    "brbs.yaml": 'name: Blue Ridge\npayer: {ids: ["BRBS1"]}\n'
    + COMMON
    + 'medicare: {zip: "10001", year: 2025}\nmodifier_adjustments: medicare\nterms:\n  - codes: ["*"]\n    percent_of_medicare: 110\n',
    "unity.yaml": 'name: Unity\npayer: {ids: ["UNITY"]}\n'
    + COMMON
    + 'rates_csv: unity.csv\nmodifier_adjustments: {"26": 40, "TC": 60}\nterms:\n  - codes: ["*"]\n    rate: 0\n',
    "cedar.yaml": 'name: Cedar\npayer: {names: ["CEDAR COMMERCIAL INSURANCE"]}\n'
    + COMMON
    + 'medicare: {zip: "10001"}\nterms:\n  - codes: ["99202-99215"]\n    rate: 95\n'
    '  - codes: ["*"]\n    percent_of_medicare: 105\n',
}


def _unity_rate(code: str) -> D:
    return D(40 + sum(ord(ch) for ch in code) % 90) + D("0.50")


def _prices(cms) -> tuple[pl.DataFrame, str]:
    """Unit price per (payer, code, component, setting), by hand from the CMS rows."""
    rows, sheet = [], ["code,modifier,rate"]
    for code in codebook.COMMON_CODES:
        sheet.append(f"{code.code},,{_unity_rate(code.code)}")
        for mod in ("", "26", "TC") if code.has_components else ("",):
            for facility in (False, True):
                try:
                    r = cms.rvu(code.code, mod)
                except KeyError:
                    continue
                if r["status"] not in ("A", "R", "T"):
                    continue
                med = cms.amount(code.code, mod, facility=facility)
                em = "99202" <= code.code <= "99215"
                unity = _unity_rate(code.code)
                unity = cents(unity * D("0.4")) if mod == "26" else cents(unity * D("0.6")) if mod == "TC" else unity
                prices = {
                    "13202": med,
                    "ACME1": D("118.00")
                    if code.code in ("20552", "20553")
                    else cents(med * (D("1.25") if em else D("1.20"))),
                    "BRBS1": cents(med * D("1.10")),
                    "UNITY": unity,
                    "CEDAR": D("95.00") if em else cents(med * D("1.05")),
                }
                rows += [
                    {
                        "payer_id": p,
                        "procedure_code": code.code,
                        "modifier": mod,
                        "facility": facility,
                        "unit_allowed": v,
                    }
                    for p, v in prices.items()
                ]
    frame = pl.DataFrame(
        rows,
        schema={
            "payer_id": pl.Utf8,
            "procedure_code": pl.Utf8,
            "modifier": pl.Utf8,
            "facility": pl.Boolean,
            "unit_allowed": pl.Decimal(14, 2),
        },
    )
    return frame, "\n".join(sheet) + "\n"


@pytest.mark.parametrize("mppr_rate", [0.0, 0.4], ids=["plain", "mppr"])
def test_compare_finds_exactly_the_injected_underpayments(mpfs_db, tmp_path, cms, mppr_rate):
    prices, sheet = _prices(cms)
    folder = tmp_path / "contracts"
    folder.mkdir()
    for name, text in CONTRACTS.items():
        (folder / name).write_text(text)
    (folder / "unity.csv").write_text(sheet)
    spec = SynthSpec(
        start=date(2025, 3, 1),
        months=1,
        claims_per_month=400,
        seed=7,
        prices=prices,
        payers=default_payers()
        if not mppr_rate
        else [replace(p, share=0.5) for p in default_payers() if p.payer_id in ("13202", "BRBS1")],
        underpay_rate=0.06,
        denial_rate=0.05,
        reversal_rate=0.03,
        secondary_rate=0.04,
        mppr_rate=mppr_rate,
    )
    synth = write_remittances(spec, tmp_path / "era")
    con = connect(mpfs_db)
    try:
        ingest_paths(synth.files, con)
        result = compare(con, folder, settings=Settings())
        got = con.sql("""
            SELECT line_control_number, payer_claim_number, claim_status, category, expected_allowed,
                   actual_allowed, variance, explanation
            FROM variances""").pl()
        VarianceRows.validate(con.sql("SELECT * FROM variances").pl(), lazy=True)
    finally:
        con.close()
    truth = synth.truth.select(
        "line_control_number",
        "payer_claim_number",
        "claim_status",
        "injected",
        "contract_allowed",
        "actual_allowed",
        "underpaid_by",
    )
    both = truth.join(got, on=["line_control_number", "payer_claim_number", "claim_status"], how="full", coalesce=True)
    assert both.height == truth.height == got.height == result.lines

    injected = set(both.filter(pl.col("injected") == "underpaid")["line_control_number"].to_list())
    found = set(both.filter(pl.col("category") == "underpaid")["line_control_number"].to_list())
    assert injected, "the writer injected no underpayment"
    odd = both.filter(pl.col("line_control_number").is_in(list(found ^ injected)))
    assert found == injected, (
        odd.select(
            "line_control_number",
            "injected",
            "category",
            "contract_allowed",
            "expected_allowed",
            "actual_allowed",
            "explanation",
        )
        .head(3)
        .write_json()
    )

    compared = both.filter(pl.col("category").is_in(["underpaid", "correct", "overpaid"]))
    # The writer halves the contract amount (round(round(fee x 110%) x 50%)); the comparison prices a
    # medicare-rule contract's percent_of_medicare lines claim by claim and applies the contract
    # percent to Medicare's reduced allowed (round(round(fee x 50%) x 110%)): the two orders may
    # differ by one cent on a reduced line, and only there.
    reduced_claim_level = pl.col("explanation").str.contains("claim-level allowed") & pl.col(
        "explanation"
    ).str.contains("multiple procedure rank [2-9]")
    off = (pl.col("expected_allowed") - pl.col("contract_allowed")).abs()
    wrong = compared.filter((off > 0) & ~(reduced_claim_level & (off <= D("0.01"))))
    assert wrong.height == 0, wrong.head(5).to_dicts()
    under = both.filter(pl.col("category") == "underpaid")
    gap = (pl.col("variance") - pl.col("underpaid_by")).abs()
    assert under.filter((gap > 0) & ~(reduced_claim_level & (gap <= D("0.01")))).height == 0
    assert (both.filter(pl.col("injected") == "denied")["category"] == "denied").all()
    assert (both.filter(pl.col("injected") == "secondary")["category"] == "secondary").all()
    assert (both.filter(pl.col("injected") == "reversed")["category"] == "reversed").all()
    assert both.filter(pl.col("claim_status") == "22")["category"].unique().to_list() == ["reversed"]
    assert result.by_category["overpaid"] == 0 and result.by_category["no_contract"] == 0
    assert result.by_category["not_priced"] == 0
    assert result.by_category["correct"] > 10 * result.by_category["underpaid"] / 2
    if mppr_rate:  # second-ranked procedures were expected at 50%, not flagged
        reduced = both.filter(pl.col("explanation").str.contains(r"multiple procedure rank 2( of \d+)?: 50%"))
        assert reduced.height > 10 and reduced.filter(pl.col("category") == "correct").height > 5
