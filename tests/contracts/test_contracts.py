"""Contract files: parsing with file:line errors, the checker's findings, and the CLI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from contracts.check import check_folder
from contracts.codes import parse_code_spec
from contracts.model import load_contracts, parse_contract
from pipelines.cli.main import main
from pipelines.core.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
name: Acme
payer:
  ids: ["ACME1"]
effective: 2025-01-01
terms:
  - codes: ["99202-99215"]
    percent_of_medicare: 125
  - codes: ["*"]
    rate: 10
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def messages(path: Path) -> list[str]:
    return [str(p) for p in parse_contract(path)[1]]


def test_good_contract_parses_every_key(tmp_path):
    path = write(
        tmp_path,
        "a.yaml",
        GOOD.replace(
            "terms:",
            (
                'expires: 2025-12-31\npayee_tins: ["123456789"]\nmedicare: {locality: "13202-01", year: 2023, qp: true}\n'
                'lesser_of_charges: true\ntolerance: {amount: 2, percent: 1.5}\nmodifier_adjustments: {50: 150, "TC": 60}\n'
                "mppr: [100, 50, 25]\nterms:"
            ),
        ),
    )
    c, problems = parse_contract(path)
    assert problems == []
    assert (c.payer_ids, c.payee_tins, c.effective, c.expires) == (
        ("ACME1",),
        ("123456789",),
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    )
    assert (c.medicare_locality, c.medicare_year, c.medicare_qp) == ("1320201", 2023, True)
    assert (c.tolerance_amount, c.tolerance_percent, c.lesser_of_charges) == (D(2), D("1.5"), True)
    assert c.modifier_mode == "table" and c.modifier_percents == {"50": D(150), "TC": D(60)}
    assert c.mppr == (D(100), D(50), D(25))
    assert [t.method for t in c.terms] == ["percent_of_medicare", "rate"]
    assert c.terms[0].line == 13


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            GOOD.replace("effective: 2025-01-01", "effective: 2025-13-01"),
            ":4: effective '2025-13-01' is not a date, expected YYYY-MM-DD",
        ),
        (GOOD.replace('["99202-99215"]', '["99215-99202"]'), ":6: term 1: range '99215-99202' runs backwards"),
        (GOOD.replace('["99202-99215"]', '["9921"]'), ":6: term 1: code '9921' is not a 5-character"),
        (
            GOOD.replace("percent_of_medicare: 125", "percent_of_medicare: lots"),
            ":7: term 1 percent_of_medicare 'lots' is not a number",
        ),
        (GOOD.replace("    rate: 10\n", ""), ":8: term 2 has 0 prices (none), expected exactly one of rate"),
        (GOOD.replace("    rate: 10\n", "    rate: 10\n    percent_of_charges: 5\n"), ":8: term 2 has 2 prices"),
        (GOOD + "colour: blue\n", ":10: unknown key 'colour'"),
        (GOOD.replace('ids: ["ACME1"]', "ids: []"), ":2: payer has no ids and no names"),
        (GOOD + 'payee_tins: ["12-345"]\n', ":10: payee TIN '12-345' is not 9 digits"),
        (GOOD + "modifier_adjustments: sometimes\n", ":10: modifier_adjustments 'sometimes', expected medicare, none"),
        (GOOD + "medicare: {zip: 1000}\n", ":10: medicare zip 1000 is not a ZIP code"),
        (GOOD + "expires: 2024-01-01\n", ":10: expires 2024-01-01 is before effective 2025-01-01"),
        (GOOD.replace("terms:\n", 'terms:\n  - codes: ["99213"\n'), "not valid YAML"),
        ("- just\n- a list\n", ":1: the file is not a mapping"),
    ],
)
def test_errors_name_file_line_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, "bad.yaml", text)
    got = messages(path)
    assert any(str(path) + expected in m or (expected == "not valid YAML" and "not valid YAML" in m) for m in got), got
    with pytest.raises(ContractError) as err:
        load_contracts(tmp_path)
    assert "underpay contracts check" in str(err.value)


def test_rates_sheet_problems_carry_the_sheet_row(tmp_path):
    write(tmp_path, "r.csv", "code,modifier,rate\n99213,,98\n9921,,5\n99214,2X6,4\n99215,,abc\n99213,,99\n")
    path = write(tmp_path, "a.yaml", GOOD + "rates_csv: r.csv\n")
    got = messages(path)
    sheet = str(tmp_path / "r.csv")
    assert f"{sheet}:3: code '9921' is not a 5-character CPT/HCPCS code" in got[0]
    assert any(m.startswith(f"{sheet}:4: modifier '2X6'") for m in got)
    assert any(m.startswith(f"{sheet}:5: rate 'abc' is not an amount") for m in got)
    assert any(m.startswith(f"{sheet}:6: 99213 appears again (first on row 2)") for m in got)


def test_missing_rates_file_points_at_the_key(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "rates_csv: nowhere.xlsx\n")
    assert any(m.startswith(f"{path}:10: rates_csv file") and "not found" in m for m in messages(path))


def test_loader_reads_yaml_recursively_and_ignores_python(tmp_path):
    write(tmp_path / "sub", "a.yml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("ACME1", "OTHER"))
    write(tmp_path, "__init__.py", "raise SystemExit")
    assert sorted(c.payer_ids[0] for c in load_contracts(tmp_path)) == ["ACME1", "OTHER"]


def test_checker_flags_overlaps_unreachable_terms_and_missing_locality(tmp_path):
    write(tmp_path, "v1.yaml", GOOD.replace("effective: 2025-01-01", "effective: 2025-01-01\nexpires: 2025-06-30"))
    write(
        tmp_path,
        "v2.yaml",
        GOOD.replace("effective: 2025-01-01", "effective: 2025-06-01") + '  - codes: ["99213"]\n    rate: 5\n',
    )
    problems = check_folder(tmp_path)
    text = [str(p) for p in problems]
    assert any(
        f"{tmp_path / 'v2.yaml'}:4: version effective 2025-06-01 overlaps v1.yaml" in t
        and "expected v1.yaml to expire on 2025-05-31" in t
        for t in text
    ), text
    assert any(f"{tmp_path / 'v2.yaml'}:10: term 3 can never match: term 1 (line 6)" in t for t in text), text
    assert any("no medicare zip or locality" in t for t in text)
    assert [p.severity for p in problems if "overlaps" in p.message] == ["error"]


def test_term_with_modifier_above_is_not_unreachable(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        GOOD.replace(
            "terms:\n",
            'terms:\n  - codes: ["71046"]\n    modifiers: ["26"]\n    rate: 9\n  - codes: ["71046"]\n    rate: 30\n',
        ),
    )
    assert not [p for p in check_folder(tmp_path) if "never match" in p.message]


def test_checker_flags_codes_unknown_to_the_fee_schedule(tmp_path, mpfs_db):
    from pipelines.core.warehouse import connect

    write(tmp_path / "c", "a.yaml", GOOD.replace('["*"]', '["99213", "99999"]'))
    con = connect(mpfs_db, read_only=True)
    try:
        problems = check_folder(tmp_path / "c", con)
    finally:
        con.close()
    unknown = [p for p in problems if "not in any imported Medicare fee schedule" in p.message]
    assert [p.message for p in unknown] == ["code 99999 is not in any imported Medicare fee schedule"]
    assert unknown[0].line == 8


def test_checker_warns_on_a_schedule_term_that_can_never_price(tmp_path, mpfs_db):
    from fee_schedules.schedule_import import import_schedules
    from pipelines.core.warehouse import connect
    from tests.conftest import shared_path

    extra = shared_path("cms", "extra")
    con = connect(mpfs_db)
    import_schedules(con, extra / "clfs" / "2025" / "CLFS 2025 Q1V1.csv")
    import_schedules(con, extra / "asp" / "2025" / "section 508 version of APR 2025 ASP Pricing File 032725.csv")
    terms = (
        'terms:\n  - codes: ["36415"]\n    percent_of_asp: 106\n'  # a lab code under a drug term
        '  - codes: ["J0000-J9999"]\n    percent_of_asp: 106\n'  # fine: ASP lists J-codes
        '  - codes: ["80000-89999"]\n    percent_of_dmepos: 85\n'  # DMEPOS not imported: nothing to say
        '  - codes: ["80047-80081"]\n    percent_of_clfs: 100\n'  # fine: the panels
    )
    write(tmp_path / "c", "a.yaml", GOOD.replace("terms:\n", terms))
    try:
        problems = check_folder(tmp_path / "c", con)
    finally:
        con.close()
    never = [p for p in problems if "can never price" in p.message]
    assert [(p.line, p.severity) for p in never] == [(6, "warning")]  # the first term (as unknown codes count lines)
    assert "ASP lists none of its codes; 36415 is priced by the lab schedule (CLFS)" in never[0].message
    assert not [p for p in problems if "36415" in p.message and "not in any imported" in p.message]


def test_shipped_examples_check_clean():
    problems = check_folder(ROOT / "contracts")
    assert [p for p in problems if p.severity == "error"] == []
    contracts = load_contracts(ROOT / "contracts")
    ids = {i for c in contracts for i in c.payer_ids}
    assert {"13202", "ACME1", "BRBS1", "UNITY", "CEDAR"} <= ids
    methods = {t.method for c in contracts for t in c.terms}
    assert {"rate", "percent_of_medicare", "percent_of_charges"} <= methods
    assert any(c.rates for c in contracts) and any(c.medicare_year for c in contracts)
    assert sum("ACME1" in c.payer_ids for c in contracts) == 2


def test_cli_check_exit_codes(tmp_path):
    write(tmp_path / "ok", "a.yaml", GOOD)
    write(tmp_path / "bad", "a.yaml", GOOD.replace("rate: 10", "rate: -1"))
    runner = CliRunner()
    ok = runner.invoke(main, ["contracts", "check", str(tmp_path / "ok"), "--db", str(tmp_path / "none.duckdb")])
    assert ok.exit_code == 0 and "0 error(s)" in ok.output
    bad = runner.invoke(main, ["contracts", "check", str(tmp_path / "bad"), "--db", str(tmp_path / "none.duckdb")])
    assert bad.exit_code == 1
    assert (
        f"{tmp_path / 'bad' / 'a.yaml'}:9: term 2 rate -1 is out of range, expected between 0 and 100000" in bad.output
    )


@given(low=st.integers(10000, 99999), width=st.integers(0, 500), probe=st.integers(10000, 99999))
def test_code_ranges_contain_exactly_their_codes(low, width, probe):
    high = min(low + width, 99999)
    spec = parse_code_spec(f"{low}-{high}")
    assert spec.contains(str(probe)) == (low <= probe <= high)
    assert parse_code_spec("*").covers(spec) and spec.covers(parse_code_spec(str(low)))
