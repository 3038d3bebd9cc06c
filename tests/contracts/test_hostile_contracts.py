"""Hostile contract folders (issue 12, item 7): every file loads in bounded time and memory, and
anything a file can cause ends in ``file:line: what, expected ...`` lines, never a traceback.

Cases: YAML bombs (aliases), rate sheets that are devices, FIFOs, symlinks or outside the folder,
duplicate keys, deep nesting, huge files and values, undecodable or binary text, and the
unreachable-term check compared with a plain quadratic reference on varied inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.check import check_folder, unreachable_terms
from contracts.codes import parse_code_spec
from contracts.model import Contract, Term, load_contracts
from pipelines.cli.main import main
from pipelines.core.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]
UNDERPAY = Path(sys.executable).parent / "underpay"
HEAD = """\
name: Acme
payer:
  ids: ["ACME1"]
effective: 2025-01-01
"""
GOOD = (
    HEAD
    + """\
terms:
  - codes: ["*"]
    rate: 10
"""
)


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def load_error(folder: Path) -> str:
    """The ContractError message of load_contracts(folder) (fails the test if it loads)."""
    with pytest.raises(ContractError) as info:
        load_contracts(folder)
    return str(info.value)


def cli_check(folder: Path, tmp_path: Path):
    """`underpay contracts check FOLDER` in a subprocess (a stuck open would hang only it)."""
    return subprocess.run(
        [str(UNDERPAY), "contracts", "check", str(folder), "--db", str(tmp_path / "none.duckdb")],
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not a timing assertion
        check=False,
    )


def assert_clean(result) -> None:
    """No traceback, a documented exit code, every output line short."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode in (0, 1, 2), result.stderr
    for line in (result.stdout + result.stderr).splitlines():
        assert len(line) < 400, line[:400]


def bomb(levels: int) -> str:
    """Billion laughs: each anchor is a list of nine aliases of the previous one (9**levels)."""
    lines = ['x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines)


# --- YAML bombs and huge values -------------------------------------------------------------


def test_yaml_bomb_in_a_checked_value_is_refused_in_a_short_message(tmp_path):
    anchors = "".join(f"  {line}\n" for line in bomb(5).splitlines())
    text = HEAD + "notes:\n" + anchors + "terms:\n  - codes: ['*']\n    rate: *a5\n"
    folder = tmp_path / "bomb"
    path = write(folder, "a.yaml", text)
    message = load_error(folder)
    assert f"{path}:" in message and "alias" in message
    assert len(message) < 2000
    result = cli_check(folder, tmp_path)
    assert_clean(result)
    assert result.returncode == 1 and "alias" in result.stdout


def test_small_anchors_and_aliases_still_work(tmp_path):
    text = HEAD + (
        'terms:\n  - codes: &em ["99202-99215"]\n    setting: facility\n    rate: 80\n  - codes: *em\n    rate: 100\n'
    )
    write(tmp_path, "a.yaml", text)
    [contract] = load_contracts(tmp_path)
    assert [t.codes[0].text for t in contract.terms] == ["99202-99215", "99202-99215"]


def test_huge_scalar_is_not_echoed_in_full(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("rate: 10", "rate: " + "9x" * 50_000))
    message = load_error(tmp_path)
    assert f"{path}:7: term 1 rate" in message
    assert len(message) < 500


def test_integer_longer_than_python_converts_is_an_error_not_a_traceback(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD.replace("rate: 10", "rate: 1" + "0" * 5000))
    message = load_error(tmp_path)
    assert f"{path}:7: term 1 rate" in message and "out of range" in message
    assert len(message) < 500


def test_huge_contract_file_is_refused(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "notes: |\n" + ("  " + "n" * 98 + "\n") * 110_000)
    message = load_error(tmp_path)
    assert f"{path}:1:" in message and "10 MB" in message


# --- duplicate keys and nesting --------------------------------------------------------------


def test_duplicate_top_level_key_names_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "name: Other\n")
    assert f"{path}:8: duplicate key 'name'" in load_error(tmp_path)


def test_duplicate_key_inside_a_term(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "  - codes: ['99213']\n    rate: 5\n    rate: 6\n")
    assert f"{path}:10: duplicate key 'rate'" in load_error(tmp_path)


def test_merge_key_override_is_not_a_duplicate(tmp_path):
    text = HEAD + "terms:\n  - &base {codes: ['99213'], rate: 5}\n  - <<: *base\n    codes: ['99214']\n"
    write(tmp_path, "a.yaml", text)
    [contract] = load_contracts(tmp_path)
    assert [t.codes[0].text for t in contract.terms] == ["99213", "99214"]


@pytest.mark.parametrize("depth", [60, 5000])
def test_deep_nesting_is_refused_cleanly(tmp_path, depth):
    path = write(tmp_path, "a.yaml", GOOD + "notes: " + "[" * depth + "]" * depth + "\n")
    message = load_error(tmp_path)
    assert f"{path}:8: nested too deep" in message


def test_deep_block_nesting_is_refused_cleanly(tmp_path):
    body = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(200)) + "  " * 201 + "v: 1\n"
    path = write(tmp_path, "a.yaml", GOOD + "notes:\n" + body)
    message = load_error(tmp_path)
    assert f"{path}:" in message and "nested too deep" in message


def test_nesting_through_aliases_is_bounded(tmp_path):
    lines = ["chain:", "  - &c0 [1]"]
    for i in range(1, 150):
        lines.append(f"  - &c{i} " + "[" * 40 + f"*c{i - 1}" + "]" * 40)
    path = write(tmp_path, "a.yaml", GOOD + "\n".join(lines) + "\n")
    message = load_error(tmp_path)
    assert f"{path}:" in message and ("nested too deep" in message or "alias" in message)


def test_nesting_within_the_limit_loads(tmp_path):
    write(tmp_path, "a.yaml", GOOD + "notes: " + "[" * 40 + "]" * 40 + "\n")
    assert len(load_contracts(tmp_path)) == 1


# --- rate sheets -----------------------------------------------------------------------------


def sheet_contract(folder: Path, target: str) -> Path:
    return write(folder, "a.yaml", GOOD + f"rates_csv: {target}\n")


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd", "../outside.csv", "sub/../../outside.csv"])
def test_rate_sheet_outside_the_folder_is_refused_without_its_content(tmp_path, target):
    write(tmp_path, "outside.csv", "code,rate\nSECRET,1\n")
    path = sheet_contract(tmp_path / "contracts", target)
    message = load_error(tmp_path / "contracts")
    assert f"{path}:8: rates_csv" in message and "inside the contracts folder" in message
    assert "SECRET" not in message and "root:" not in message


def test_rate_sheet_on_dev_zero_through_the_cli(tmp_path):
    sheet_contract(tmp_path / "contracts", "/dev/zero")
    result = cli_check(tmp_path / "contracts", tmp_path)
    assert_clean(result)
    assert result.returncode == 1 and ":8: rates_csv" in result.stdout


def test_rate_sheet_fifo_does_not_block(tmp_path):
    folder = tmp_path / "contracts"
    path = sheet_contract(folder, "pipe.csv")
    os.mkfifo(folder / "pipe.csv")
    result = cli_check(folder, tmp_path)
    assert_clean(result)
    assert result.returncode == 1 and f"{path}:8: rates_csv" in result.stdout and "regular file" in result.stdout


def test_rate_sheet_symlink_out_of_the_folder_is_refused(tmp_path):
    write(tmp_path, "outside.csv", "code,rate\n99213,SECRET\n")
    folder = tmp_path / "contracts"
    path = sheet_contract(folder, "r.csv")
    (folder / "r.csv").symlink_to(tmp_path / "outside.csv")
    message = load_error(folder)
    assert f"{path}:8: rates_csv" in message and "SECRET" not in message


def test_rate_sheet_symlink_inside_the_folder_and_subfolder_sheet_load(tmp_path):
    folder = tmp_path / "contracts"
    write(folder / "sheets", "r.csv", "code,rate\n99213,80\n")
    (folder / "link.csv").symlink_to(folder / "sheets" / "r.csv")
    write(folder, "a.yaml", GOOD + "rates_csv: link.csv\n")
    write(folder, "b.yaml", GOOD.replace("ACME1", "ACME2") + "rates_csv: sheets/r.csv\n")
    contracts = load_contracts(folder)
    assert [str(r.rate) for c in contracts for r in c.rates] == ["80.00", "80.00"]


def test_rate_sheet_name_that_is_not_text(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD + "rates_csv: [a, b]\n")
    assert f"{path}:8: rates_csv" in load_error(tmp_path)


@pytest.mark.parametrize(
    "data",
    [b"code,rate\n99213,1\x0000\n", b"code,rate\n99213,caf\xe9\n", bytes(range(256)) * 40, b"", b"PK\x03\x04junk"],
    ids=["nul", "latin1", "binary", "empty", "bad-xlsx"],
)
def test_odd_rate_sheet_bytes_are_reported_by_row(tmp_path, data):
    folder = tmp_path / "contracts"
    name = "r.xlsx" if data.startswith(b"PK") else "r.csv"
    sheet_contract(folder, name)
    write(folder, name, data)
    message = load_error(folder)
    assert "Traceback" not in message and len(message) < 1000
    assert f"{folder / name}:" in message or f"{folder / 'a.yaml'}:8:" in message


def test_contract_file_that_links_to_a_device(tmp_path):
    (tmp_path / "a.yaml").symlink_to("/dev/zero")
    assert f"{tmp_path / 'a.yaml'}:1: the file is not a regular file (a device)" in load_error(tmp_path)


def test_rate_sheet_directory_is_refused(tmp_path):
    folder = tmp_path / "contracts"
    path = sheet_contract(folder, "r.csv")
    (folder / "r.csv").mkdir()
    assert f"{path}:8: rates_csv" in load_error(folder)


# --- odd contract files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, where",
    [
        (b"name: caf\xe9\n", ":1: not UTF-8"),
        (b"name: ok\nnotes: caf\xe9\n", ":2: not UTF-8"),
        (bytes(range(256)) * 10, ":2: not UTF-8"),
        (b"", ":1: the file is not a mapping"),
        (b"- a\n- b\n", ":1: the file is not a mapping"),
        (b"name: a\x00b\n", ":1: not valid YAML"),
        (b"? [a, b]\n: c\n", ":1:"),
        (b"name: !!python/object/apply:os.system ['echo hi']\n", ":1: not valid YAML"),
        (b"name: a\nnotes: &x [1, *x]\n", ":2: an alias inside its own anchor"),
        (b"name: a\nnotes: *nowhere\n", ":2: not valid YAML"),
    ],
    ids=["latin1", "latin1-line2", "binary", "empty", "list", "nul", "list-key", "python-tag", "cycle", "undefined"],
)
def test_odd_contract_files_give_one_line_errors(tmp_path, data, where):
    folder = tmp_path / "contracts"
    path = write(folder, "a.yaml", data)
    message = load_error(folder)
    assert f"{path}{where}" in message


def test_odd_contract_files_through_the_cli(tmp_path):
    folder = tmp_path / "contracts"
    write(folder, "a.yaml", b"name: caf\xe9\n")
    write(folder, "b.yaml", bytes(range(256)) * 10)
    write(folder, "c.yaml", b"")
    (folder / "d.yaml").mkdir()
    write(folder / "d.yaml", "e.yaml", GOOD)
    os.mkfifo(folder / "f.yaml")
    result = cli_check(folder, tmp_path)
    assert_clean(result)
    assert result.returncode == 1
    assert f"{folder / 'f.yaml'}:1: the file is not a regular file (a FIFO)" in result.stdout
    assert f"{folder / 'd.yaml'}:" not in result.stdout  # a folder named like a contract is walked
    assert "4 error(s)" in result.stderr


def test_missing_folder_is_exit_2(tmp_path):
    result = CliRunner().invoke(
        main, ["contracts", "check", str(tmp_path / "nowhere"), "--db", str(tmp_path / "none.duckdb")]
    )
    assert result.exit_code == 2 and "Error:" in result.output and "Traceback" not in result.output


# --- unreachable terms: near-linear, same findings as the plain definition -------------------


def reference_unreachable(contract: Contract) -> list[tuple[int, int]]:
    """(later, earlier) index pairs by the plain definition: the first earlier term whose
    modifiers and setting admit every line of the later one and whose codes cover all of its codes."""
    out = []
    for j, later in enumerate(contract.terms):
        for earlier in contract.terms[:j]:
            if not later.codes:
                break
            if earlier.modifiers and not (later.modifiers and set(later.modifiers) <= set(earlier.modifiers)):
                continue
            if earlier.setting and earlier.setting != later.setting:
                continue
            if all(any(e.covers(s) for e in earlier.codes) for s in later.codes):
                out.append((later.index, earlier.index))
                break
    return out


SPECS = ["*", "99213", "99214", "99215", "99202-99215", "99213-99214", "99214-99299", "G0101", "G0100-G0200", "A0001"]
TERMS = st.builds(
    lambda codes, mods, setting: (codes, mods, setting),
    st.lists(st.sampled_from(SPECS), min_size=0, max_size=3),
    st.one_of(st.none(), st.lists(st.sampled_from(["26", "TC", "50"]), min_size=0, max_size=2)),
    st.sampled_from([None, "facility", "non-facility"]),
)


def make_contract(raw) -> Contract:
    terms = tuple(
        Term(
            index=i,
            line=i + 5,
            codes=tuple(parse_code_spec(c) for c in codes),
            modifiers=tuple(mods) if mods is not None else None,
            setting=setting,
            method="rate",
            value=None,
        )
        for i, (codes, mods, setting) in enumerate(raw, start=1)
    )
    import datetime as dt

    return Contract(
        name="x", file=Path("x.yaml"), line=1, payer_ids=("X",), payer_names=(), payee_tins=(),
        effective=dt.date(2025, 1, 1), expires=None, terms=terms,
    )  # fmt: skip


def found_pairs(contract: Contract) -> list[tuple[int, int]]:
    out = []
    for p in unreachable_terms(contract):
        later = int(p.message.split()[1])
        earlier = int(p.message.split("term ")[2].split()[0])
        out.append((later, earlier))
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(TERMS, min_size=0, max_size=12))
def test_unreachable_terms_match_the_plain_definition(raw):
    contract = make_contract(raw)
    assert found_pairs(contract) == reference_unreachable(contract)


def test_unreachable_terms_on_many_one_code_terms():
    raw = [([f"{10000 + i:05d}"], None, None) for i in range(3000)]
    raw += [(["10005"], None, None), (["10005", "10007"], ["26"], "facility"), (["10000-10100"], None, None)]
    contract = make_contract(raw)
    assert found_pairs(contract) == [(3001, 6)] == reference_unreachable(contract)


def test_many_term_contract_reports_the_one_unreachable_term(tmp_path):
    lines = [HEAD.rstrip("\n"), "terms:"]
    for i in range(2000):
        lines += [f'  - codes: ["{10000 + i:05d}"]', "    rate: 10"]
    lines += ['  - codes: ["10003"]', "    rate: 11"]
    write(tmp_path, "a.yaml", "\n".join(lines) + "\n")
    problems = check_folder(tmp_path)
    assert [p.message.split(":")[0] for p in problems] == ["term 2001 can never match"]
