"""The provider roster (providers.csv / providers.yaml) and the contract setting anesthesia_time."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from contracts.check import check_folder
from contracts.model import load_contracts, parse_contract
from contracts.providers import (
    PROVIDER_TYPES,
    ROSTER_SCHEMA,
    load_roster,
    npi_check_digit_ok,
    read_roster,
    roster_files,
)
from contracts.terms import contract_frames
from pipelines.cli.main import main
from pipelines.core.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]
# Valid NPIs: 1234567893 is CMS's own example; the check digit of the others was worked by hand
# (Luhn over 80840 + the first nine digits, e.g. 80840123456780 -> 2).
NPI_A = "1234567893"
NPI_B = "1234567802"
NPI_C = "1456789019"
GOOD_CONTRACT = """\
name: Acme
payer:
  ids: ["ACME1"]
effective: 2025-01-01
terms:
  - codes: ["*"]
    rate: 10
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def problems_of(folder: Path) -> list[str]:
    return [str(p) for p in read_roster(folder)[1]]


# --------------------------------------------------------------------------- NPI check digit


@pytest.mark.parametrize(
    "npi, ok",
    [
        ("1234567893", True),  # CMS's example NPI
        ("1234567802", True),
        ("1456789019", True),
        ("1234567890", False),  # last digit wrong
        ("1234567839", False),  # the last two digits swapped
        ("2134567893", False),  # the first two swapped
        ("123456789", False),  # nine digits
        ("12345678930", False),
        ("123456789X", False),
        ("١٢٣٤٥٦٧٨٩٣", False),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_npi_check_digit(npi, ok):
    assert npi_check_digit_ok(npi) is ok


@given(st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_exactly_one_check_digit_fits_nine_digits(prefix):
    assert sum(npi_check_digit_ok(prefix + str(d)) for d in range(10)) == 1


@given(st.from_regex(r"[0-9]{9}", fullmatch=True), st.integers(0, 9), st.integers(1, 9))
def test_a_single_mistyped_digit_is_always_caught(prefix, position, shift):
    npi = next(prefix + str(d) for d in range(10) if npi_check_digit_ok(prefix + str(d)))
    typo = npi[:position] + str((int(npi[position]) + shift) % 10) + npi[position + 1 :]
    assert not npi_check_digit_ok(typo)


# --------------------------------------------------------------------------- a valid roster


def test_valid_roster_loads_typed_trimmed_and_upper(tmp_path):
    write(
        tmp_path,
        "providers.csv",
        "\ufeffNPI , Type,Name,specialty\r\n"  # BOM, header in any case and order, an extra column
        f"{NPI_A},md,  Alice   Chen ,family medicine\r\n"
        "\r\n"  # a blank line is skipped
        f' {NPI_C} , Np ,"Delgado, Rosa",\r\n',
    )
    frame = load_roster(tmp_path)
    assert frame.schema == pl.Schema(ROSTER_SCHEMA)
    assert frame.to_dicts() == [
        {"npi": NPI_A, "name": "Alice Chen", "provider_type": "MD"},
        {"npi": NPI_C, "name": "Delgado, Rosa", "provider_type": "NP"},
    ]


def test_every_provider_type_is_accepted(tmp_path):
    prefixes = [f"1{n:02d}0000000" for n in range(len(PROVIDER_TYPES))]
    npis = [next(p[:9] + str(d) for d in range(10) if npi_check_digit_ok(p[:9] + str(d))) for p in prefixes]
    rows = "".join(f"{npi},Provider {t},{t.lower()}\n" for npi, t in zip(npis, PROVIDER_TYPES, strict=True))
    write(tmp_path, "providers.csv", "npi,name,provider_type\n" + rows)
    assert load_roster(tmp_path)["provider_type"].to_list() == list(PROVIDER_TYPES)


def test_no_roster_file_gives_an_empty_typed_frame(tmp_path):
    write(tmp_path, "a.yaml", GOOD_CONTRACT)
    frame = load_roster(tmp_path)
    assert frame.height == 0 and frame.schema == pl.Schema(ROSTER_SCHEMA)
    assert load_roster(tmp_path / "absent").height == 0
    assert roster_files(tmp_path) == []


def test_rosters_in_subfolders_are_read_as_one(tmp_path):
    write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},Alice Chen,MD\n")
    write(tmp_path / "west", "Providers.CSV", f"npi,name,type\n{NPI_B},Bo Li,PA\n")
    assert sorted(load_roster(tmp_path)["npi"].to_list()) == sorted([NPI_A, NPI_B])


def test_shipped_example_roster():
    frame = load_roster(ROOT / "contracts" / "examples")
    assert {"MD", "NP", "PA", "PT", "PTA", "CRNA"} <= set(frame["provider_type"])
    assert frame["npi"].n_unique() == frame.height
    # the synthetic demo's rendering providers (NM1*82) are on it, as physicians
    from pipelines.synthetic.writer import RENDERING

    md = dict(zip(frame["npi"], frame["provider_type"], strict=True))
    assert all(md[npi] == "MD" for _, _, npi in RENDERING)
    # the repository's default contracts folder finds it too
    assert load_roster(ROOT / "contracts").equals(frame)


# --------------------------------------------------------------------------- bad rows


@pytest.mark.parametrize(
    "row, expected",
    [
        ("12345,A B,MD", "column npi: '12345' is not 10 digits, expected a 10-digit NPI such as 1234567893"),
        ("1234567893.0,A B,MD", "column npi: '1234567893.0' is not 10 digits"),  # a spreadsheet's number
        ("1.23457E+09,A B,MD", "column npi: '1.23457E+09' is not 10 digits"),
        ("123456789O,A B,MD", "column npi: '123456789O' is not 10 digits"),  # letter O
        ("١٢٣٤٥٦٧٨٩٣,A B,MD", "column npi: '١٢٣٤٥٦٧٨٩٣' is not 10 digits"),
        (",A B,MD", "column npi: the NPI is blank, expected the provider's 10-digit NPI"),
        (
            "1234567890,A B,MD",
            "column npi: 1234567890 fails the NPI check digit, expected the NPI exactly as NPPES lists it",
        ),
        (f"{NPI_A},,MD", "column name: the name is blank, expected the provider's name"),
        (f"{NPI_A},   ,MD", "column name: the name is blank"),
        (f"{NPI_A},A B,RN", "column type: 'RN' is not a provider type, expected one of MD, DO, NP, PA, CNS, CRNA"),
        (f"{NPI_A},A B,M.D.", "column type: 'M.D.' is not a provider type"),
        (f"{NPI_A},A B,", "column type: the provider type is blank, expected one of MD"),
        (f"{NPI_A},A B", "column type: the provider type is blank"),  # a short row
        (
            f"{NPI_A},Smith, Jane,MD",
            "4 values but the header has 3 columns, expected one value per column (a comma inside a name needs quotes",
        ),
        (f"{NPI_A},{'x' * 201},MD", "column name: the name is 201 characters long, expected at most 200 characters"),
    ],
)
def test_bad_rows_name_file_line_and_column(tmp_path, row, expected):
    path = write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_B},Good Row,MD\n{row}\n")
    frame, problems = read_roster(tmp_path)
    assert len(problems) == 1 and str(problems[0]).startswith(f"{path}:3: {expected}"), problems
    assert frame["npi"].to_list() == [NPI_B]  # the good row is kept; the bad one is not
    with pytest.raises(ContractError) as err:
        load_roster(tmp_path)
    assert f"{path}:3: {expected}" in str(err.value) and "underpay contracts check" in str(err.value)


def test_every_problem_of_a_file_is_reported(tmp_path):
    path = write(tmp_path, "providers.csv", "npi,name,type\n1234567890,,XX\n12,A,MD\n")
    got = problems_of(tmp_path)
    assert [g.split(": ", 2)[:2] for g in got] == [
        [f"{path}:2", "column npi"],
        [f"{path}:2", "column name"],
        [f"{path}:2", "column type"],
        [f"{path}:3", "column npi"],
    ]


def test_duplicate_npis_within_and_across_files(tmp_path):
    first = write(
        tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},Alice Chen,MD\n{NPI_B},Bo Li,PA\n{NPI_A},A Chen,MD\n"
    )
    second = write(tmp_path / "sub", "providers.csv", f"npi,name,type\n{NPI_B},Bo Li,NP\n")
    frame, problems = read_roster(tmp_path)
    assert [str(p) for p in problems] == [
        f"{first}:4: column npi: {NPI_A} is listed again (first on line 2), expected one row per NPI "
        "(delete or merge the repeated row)",
        f"{second}:2: column npi: {NPI_B} is listed again (first on {first}:3), expected one row per NPI "
        "(delete or merge the repeated row)",
    ]
    assert frame["name"].to_list() == ["Alice Chen", "Bo Li"]  # the first listing stands


def test_multiline_record_is_reported_on_its_own_line(tmp_path):
    path = write(tmp_path, "providers.csv", f'npi,name,type\n{NPI_A},"Alice\nChen",MD\n{NPI_B},Bo,XX\n')
    got = problems_of(tmp_path)
    assert got[0].startswith(f"{path}:2: column name: 'Alice\\nChen' contains the control character U+000A")
    assert got[1].startswith(f"{path}:4: column type: 'XX'")


@pytest.mark.parametrize(
    "header, expected",
    [
        ("npi,name", ":1: no 'type' column in header ['npi', 'name'], expected a header row: npi,name,type"),
        ("id,name,type", ":1: no 'npi' column in header"),
        ("npi,name,type,type", ":1: the 'type' column appears 2 times in the header, expected each column once"),
        (f"{NPI_A},Alice Chen,MD", ":1: no 'npi' column in header"),  # no header row at all
    ],
)
def test_header_problems(tmp_path, header, expected):
    path = write(tmp_path, "providers.csv", f"{header}\n{NPI_B},Bo Li,MD\n")
    got = problems_of(tmp_path)
    assert any(g.startswith(f"{path}{expected}") for g in got), got
    assert read_roster(tmp_path)[0].height == 0


def test_empty_roster_file(tmp_path):
    path = write(tmp_path, "providers.csv", "")
    assert problems_of(tmp_path) == [f"{path}:1: the roster is empty, expected a header row: npi,name,type"]
    write(tmp_path, "providers.csv", "npi,name,type\n")  # a header and no providers is fine
    assert problems_of(tmp_path) == [] and load_roster(tmp_path).height == 0


# --------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    "name, shown",
    [
        ("Eve\x1b[31mRed", "'Eve\\x1b[31mRed' contains the control character U+001B"),  # terminal escape
        ("Eve\u202egnp.exe", "'Eve\\u202egnp.exe' contains the control character U+202E"),  # bidi override
        ("Eve\x00", "'Eve\\x00' contains the control character U+0000"),
        ("Eve\tSmith", "'Eve\\tSmith' contains the control character U+0009"),
        ("\u200bEve", "'\\u200bEve' contains the control character U+200B"),  # zero-width space
    ],
)
def test_hostile_names_are_refused_and_shown_escaped(tmp_path, name, shown):
    path = write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},{name},MD\n")
    got = problems_of(tmp_path)
    assert got == [
        f"{path}:2: column name: {shown}, expected printable text (no tabs, line breaks or invisible characters)"
    ]


def test_non_ascii_names_are_kept(tmp_path):
    write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},José Ñúñez-Øberg 李,DO\n")
    assert load_roster(tmp_path)["name"].to_list() == ["José Ñúñez-Øberg 李"]


def test_huge_value_is_not_echoed_in_full(tmp_path):
    path = write(tmp_path, "providers.csv", f"npi,name,type\n{'9' * 5000},A,MD\n{NPI_A},B,{'Q' * 5000}\n")
    got = problems_of(tmp_path)
    assert got[0].startswith(f"{path}:2: column npi: '9999") and "(5000 characters)" in got[0]
    assert got[1].startswith(f"{path}:3: column type: 'QQQ") and "(5000 characters)" in got[1]
    assert max(len(g) for g in got) < 300


def test_field_over_the_csv_limit_is_a_row_error(tmp_path):
    path = write(tmp_path, "providers.csv", f'npi,name,type\n{NPI_A},"{"x" * 200_000}",MD\n')
    got = problems_of(tmp_path)
    assert got == [
        f"{path}:2: not a CSV row (field larger than field limit (131072)), expected comma-separated text: npi,name,type"
    ]


def test_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},Jos\xe9,MD\n".encode("latin-1"))
    assert problems_of(tmp_path) == [
        f"{path}:2: not UTF-8 text (byte 0xe9 at column 15 of line 2), expected a UTF-8 text file (save it as UTF-8)"
    ]


def test_too_large_roster_is_refused(tmp_path):
    path = write(tmp_path, "providers.csv", b"npi,name,type\n" + b"#" * (10 * 1024 * 1024))
    assert problems_of(tmp_path) == [
        f"{path}:1: provider roster providers.csv is larger than 10 MB, expected a smaller file "
        "(split a rate sheet, or keep one contract version per file)"
    ]


def test_too_many_providers(tmp_path, monkeypatch):
    import contracts.providers as providers

    monkeypatch.setattr(providers, "MAX_PROVIDERS", 2)
    path = write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},A,MD\n{NPI_B},B,MD\n{NPI_C},C,MD\n")
    assert problems_of(tmp_path) == [f"{path}:4: more than 2 providers, expected a smaller roster"]


def test_roster_link_out_of_the_folder_is_refused_unread(tmp_path):
    secret = write(tmp_path / "outside", "secret.csv", "npi,name,type\nTOP SECRET,x,y\n")
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "providers.csv").symlink_to(secret)
    got = problems_of(folder)
    assert got == [
        f"{folder / 'providers.csv'}:1: provider roster providers.csv is a link that leads outside the contracts "
        "folder, expected a regular file inside the contracts folder"
    ]
    assert "SECRET" not in got[0]


def test_roster_link_inside_the_folder_is_read(tmp_path):
    write(tmp_path / "shared", "all.csv", f"npi,name,type\n{NPI_A},A,MD\n")
    (tmp_path / "providers.csv").symlink_to(tmp_path / "shared" / "all.csv")
    assert load_roster(tmp_path)["npi"].to_list() == [NPI_A]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_roster_fifo_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "providers.csv")
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'providers.csv'}:1: provider roster providers.csv is not a regular file (a FIFO), "
        "expected a regular text file"
    ]


def test_folder_named_like_a_roster_is_searched_not_read(tmp_path):
    write(tmp_path / "providers.csv", "providers.csv", f"npi,name,type\n{NPI_A},A,MD\n")
    assert problems_of(tmp_path) == [] and load_roster(tmp_path)["npi"].to_list() == [NPI_A]


# --------------------------------------------------------------------------- providers.yaml


def test_yaml_roster(tmp_path):
    write(
        tmp_path,
        "providers.yaml",
        f'- {{npi: "{NPI_A}", name: Alice Chen, type: md}}\n- npi: {NPI_B}\n  name: " Bo  Li "\n  type: PA\n',
    )
    write(tmp_path, "a.yaml", GOOD_CONTRACT)
    assert load_roster(tmp_path).to_dicts() == [
        {"npi": NPI_A, "name": "Alice Chen", "provider_type": "MD"},
        {"npi": NPI_B, "name": "Bo Li", "provider_type": "PA"},
    ]
    # a roster is never read as a contract
    assert [c.name for c in load_contracts(tmp_path)] == ["Acme"]
    assert [p for p in check_folder(tmp_path) if p.severity == "error"] == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("npi: 1\n", ":1: the roster is not a list"),
        ("- just text\n", ":1: provider 1 is not a mapping"),
        (
            f'- {{npi: "{NPI_A}", name: A, type: MD, ssn: "1"}}\n',
            ":1: provider 1: unknown key 'ssn', expected npi, name",
        ),
        (f"- npi: {NPI_A}\n  name: [A]\n  type: MD\n", ":1: provider 1 name: ['A'] is not a name"),
        ("- npi: 1234567890\n  name: A\n  type: MD\n", ":1: provider 1 npi: 1234567890 fails the NPI check digit"),
        (f"- npi: {NPI_A}\n  name: A\n  type: true\n", ":1: provider 1 type: True is not a provider type"),
        (f"- npi: {NPI_A}\n  name: A\n", ":1: provider 1 type: the provider type is blank"),
        (f'- {{npi: "{NPI_A}", name: A, type: MD}}\n- {{npi: "{NPI_A}", name: B, type: NP}}\n', ":2: provider 2 npi: "),
        ("- [unclosed\n", "not valid YAML"),
    ],
)
def test_yaml_roster_problems(tmp_path, text, expected):
    path = write(tmp_path, "providers.yml", text)
    got = problems_of(tmp_path)
    assert any(g.startswith(f"{path}{expected}") or (expected in g and expected == "not valid YAML") for g in got), got


# --------------------------------------------------------------------------- contracts check


def test_check_folder_reports_roster_problems_with_contract_problems(tmp_path):
    write(tmp_path, "a.yaml", GOOD_CONTRACT.replace("rate: 10", "rate: -1"))
    roster = write(tmp_path, "providers.csv", f"npi,name,type\n{NPI_A},A,MD\n{NPI_A},B,ZZ\n")
    problems = check_folder(tmp_path)
    text = [str(p) for p in problems]
    assert any(t.startswith(f"{tmp_path / 'a.yaml'}:7: term 1 rate -1 is out of range") for t in text), text
    assert f"{roster}:3: column type: 'ZZ' is not a provider type" in "\n".join(text)
    assert all(p.severity == "error" for p in problems)


def test_cli_check_reports_the_roster(tmp_path):
    write(tmp_path / "ok", "a.yaml", GOOD_CONTRACT)
    write(tmp_path / "ok", "providers.csv", f"npi,name,type\n{NPI_A},A,MD\n")
    write(tmp_path / "bad", "a.yaml", GOOD_CONTRACT)
    write(tmp_path / "bad", "providers.csv", "npi,name,type\n1234567890,A,MD\n")
    runner = CliRunner()
    db = ["--db", str(tmp_path / "none.duckdb")]
    ok = runner.invoke(main, ["contracts", "check", str(tmp_path / "ok"), *db])
    assert ok.exit_code == 0, ok.output
    assert "1 contract file(s) and 1 provider roster(s) checked: 0 error(s), 0 warning(s)" in ok.output
    bad = runner.invoke(main, ["contracts", "check", str(tmp_path / "bad"), *db])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'bad' / 'providers.csv'}:2: column npi: 1234567890 fails the NPI check digit" in bad.output
    assert "Traceback" not in bad.output


def test_shipped_folder_checks_clean_with_its_roster():
    problems = check_folder(ROOT / "contracts")
    assert [p for p in problems if p.severity == "error"] == []


# --------------------------------------------------------------------------- anesthesia_time


@pytest.mark.parametrize(
    "line, value",
    [("", "minutes"), ("anesthesia_time: units\n", "units"), ("anesthesia_time: ' Minutes'\n", "minutes")],
)
def test_anesthesia_time_setting(tmp_path, line, value):
    path = write(tmp_path, "a.yaml", GOOD_CONTRACT + line)
    contract, problems = parse_contract(path)
    assert problems == [] and contract.anesthesia_time == value
    frame = contract_frames([contract])["ct_contracts"]
    assert frame.schema["anesthesia_time"] == pl.Utf8
    assert frame["anesthesia_time"].to_list() == [value]


@pytest.mark.parametrize(
    "value, shown", [("hours", "'hours'"), ("15", "15"), ("null", "None"), ("[units]", "['units']")]
)
def test_bad_anesthesia_time_names_its_line(tmp_path, value, shown):
    path = write(tmp_path, "a.yaml", GOOD_CONTRACT + f"anesthesia_time: {value}\n")
    contract, problems = parse_contract(path)
    assert contract is None
    assert [str(p) for p in problems] == [
        f"{path}:8: anesthesia_time {shown}, expected minutes (SVC05 of an anesthesia line is its minutes) "
        "or units (15-minute time units)"
    ]


def test_shipped_contracts_default_to_minutes():
    frames = contract_frames(load_contracts(ROOT / "contracts"))
    assert frames["ct_contracts"]["anesthesia_time"].to_list() == ["minutes"] * frames["ct_contracts"].height
