"""`underpay price --claims IN.csv --out OUT.csv`: whole claims from a CSV, through the real CLI and pricer.

Expected amounts are the worked 2025 examples of ../shared/notes/medicare-payment-policy.md (release A,
hence dates in February 2025): Manhattan is ZIP 10001 / locality 13202-01.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from decimal import Decimal

import polars as pl
import pytest
from click.testing import CliRunner

from fee_schedules.claims_csv import COLUMNS, read_claims
from pipelines.cli.main import main
from pipelines.core.errors import InputFileError

HEADER = "claim_id,line,code,modifiers,units,minutes,charge,zip,facility,provider,date"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def dict_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- priced by hand (note §3)

CLAIMS = (
    HEADER + "\n"
    # §3.1: 29881-50 ranks first at 150 % (626.66 x 1.5 = 939.99); 20610 second at 50 % (50.77 x 0.5 = 25.39).
    # Lines given out of order: the line number, not the file position, decides.
    "M1,2,20610,,,,,10001,true,,2025-02-10\n"
    "M1,1,29881,50,,,,10001,true,,2025-02-10\n"
    # §3.8: 00811-QK, 52 minutes: (4 base + 52/15 = 3.5 time units) x CF 22.76 x 50 % = 85.35
    "A1,1,00811,QK,,52,,10001,true,MD,2025-02-10\n"
    # §3.6: 64721-50 billed $600: lower of $600 and 508.24 x 150 % = 762.36
    "B1,1,64721,50,,,600.00,10001,true,,2025-02-10\n"
    # §3.7: 27447-55 by a PA: 1465.45 x 21 % post-op x 85 % = 261.58
    "S1,1,27447,55,,,,10001,true,PA,2025-02-10\n"
    # §3.9: reduced services 52 are by report: not priced, with the reason
    "R1,1,20610,52,,,,10001,true,,2025-02-10\n"
)


@pytest.fixture()
def pricer():
    """The claim-level pricer these tests run through (issue 13, in progress: skip until it lands)."""
    return pytest.importorskip("fee_schedules.claims", reason="fee_schedules.claims (issue 13) not written yet")


@pytest.fixture()
def priced(mpfs_db, tmp_path, pricer):
    src = tmp_path / "claims.csv"
    src.write_text(CLAIMS)
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 0, text
    return text, {(r["claim_id"], r["line"]): r for r in dict_rows(out)}, out


@pytest.mark.parametrize(
    "key, allowed",
    [
        (("M1", "1"), "939.99"),
        (("M1", "2"), "25.39"),
        (("A1", "1"), "85.35"),
        (("B1", "1"), "600.00"),
        (("S1", "1"), "261.58"),
    ],
)
def test_hand_priced_claims(priced, key, allowed):
    _, rows, _ = priced
    row = rows[key]
    assert (row["status"], row["allowed"], row["reason"]) == ("priced", allowed, "")
    assert row["derivation"]  # each step with its amounts


def test_by_report_line_is_not_priced_with_its_reason(priced):
    _, rows, _ = priced
    row = rows[("R1", "1")]
    assert row["status"] == "not_priced" and row["allowed"] == "" and row["reason"]


def test_summary_line_and_owner_only_output(priced):
    text, _, out = priced
    total = Decimal("939.99") + Decimal("25.39") + Decimal("85.35") + Decimal("600.00") + Decimal("261.58")
    assert text.strip().startswith("6 lines in 5 claims: 5 priced, 1 not priced")
    assert f"total allowed ${total:,.2f}" in text and str(out) in text
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_summary_is_one_line(priced):
    text, _, _ = priced
    assert len(text.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- round trip


def test_output_keeps_every_input_column_and_its_text(mpfs_db, tmp_path, pricer):
    # BOM, CRLF, a header in its own case, quoted text with a comma, tabs between modifiers, a blank row,
    # yes/1/blank facility, a lower-case provider type, locality with a hyphen, ZIP+4, year instead of date
    src = tmp_path / "in.csv"
    src.write_bytes(
        b"\xef\xbb\xbfClaim_ID,Line,CODE,modifiers,units,charge,locality,zip,facility,provider,year\r\n"
        b'"K,1",1,20553,,1.0,"125.00",13202-01,,no,np,2025\r\n'
        b"\r\n"
        b'"K,1",2,99213,25 \t 59,,,,10001-2345,,,2025\r\n'
        b"K2,1,71046,26,,,1320201,,YES,,2025\r\n"
    )
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 0, text
    got = rows_of(out)
    assert got[0] == "Claim_ID,Line,CODE,modifiers,units,charge,locality,zip,facility,provider,year".split(",") + [
        "allowed",
        "status",
        "reason",
        "derivation",
    ]
    given = list(csv.reader(io.StringIO(src.read_bytes().decode("utf-8-sig"), newline="")))
    body = [r for r in given[1:] if r]
    assert [r[:11] for r in got[1:]] == body  # same rows, same order, same text (blank row skipped)
    assert all(r[12] in ("priced", "not_priced") for r in got[1:])


def test_national_needs_no_place(mpfs_db, tmp_path, pricer):
    src = tmp_path / "in.csv"
    src.write_text("claim_id,line,code,year\nN,1,99213,2025\n")
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--out", out, "--national", "--db", mpfs_db)
    assert code == 0, text
    (row,) = dict_rows(out)
    assert row["status"] == "priced" and Decimal(row["allowed"]) > 0


def test_no_cell_is_a_formula(mpfs_db, tmp_path, pricer):
    src = tmp_path / "in.csv"
    src.write_text(
        "claim_id,line,code,zip,year\n"
        '"=HYPERLINK(""http://x"",""y"")",1,99213,10001,2025\n'
        "@SUM(A1),1,99213,10001,2025\n"
        "+1,1,99213,10001,2025\n"
        "-2,1,99213,10001,2025\n"
    )
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 0, text
    got = rows_of(out)
    assert [r[0] for r in got[1:]] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "'+1", "'-2"]
    for r in got[1:]:
        for cell in r:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


# ----------------------------------------------------------------------------- CLI usage and refusals


def test_usage_errors(mpfs_db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("claim_id,line,code,zip,year\nA,1,99213,10001,2025\n")
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--db", mpfs_db)
    assert code == 2 and "--claims needs --out" in text
    code, text = run("price", "99213", "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 2 and "one of CODE, --batch or --claims" in text
    code, text = run("price", "--batch", src, "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 2 and "one of CODE, --batch or --claims" in text
    code, text = run("price", "--claims", src, "--out", out, "--zip", "10001", "--facility", "--db", mpfs_db)
    assert code == 2 and "--zip, --facility cannot be used with --claims" in text
    assert not out.exists()


def test_out_must_not_be_the_input(mpfs_db, tmp_path):
    src = tmp_path / "in.csv"
    text_in = "claim_id,line,code,zip,year\nA,1,99213,10001,2025\n"
    src.write_text(text_in)
    code, text = run("price", "--claims", src, "--out", src, "--db", mpfs_db)
    assert code == 2 and "--out is the input file" in text
    code, text = run("price", "--claims", src, "--out", tmp_path / "." / "in.csv", "--db", mpfs_db)
    assert code == 2 and "--out is the input file" in text
    assert src.read_text() == text_in


def test_bad_file_exit_2_names_row_and_column_and_writes_nothing(mpfs_db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("claim_id,line,code,units,zip,year\nA,1,99213,1,10001,2025\nA,2,99213,two,10001,2025\n")
    out = tmp_path / "out.csv"
    code, text = run("price", "--claims", src, "--out", out, "--db", mpfs_db)
    assert code == 2
    assert text.startswith("Error: ") and "in.csv, row 3, column 'units'" in text and "'two'" in text
    assert "Traceback" not in text and not out.exists()


# ----------------------------------------------------------------------------- every validation error


def fails(tmp_path, content, *, national=False):
    src = tmp_path / "in.csv"
    if isinstance(content, bytes):
        src.write_bytes(content)
    else:
        src.write_text(content)
    with pytest.raises(InputFileError) as caught:
        read_claims(src, national=national)
    return str(caught.value)


BASE = "claim_id,line,code,modifiers,units,minutes,charge,zip,locality,facility,provider,year,date\n"
GOOD = "A,1,99213,,,,,10001,,false,,2025,\n"


@pytest.mark.parametrize(
    "row, column, expected",
    [
        (",1,99213,,,,,10001,,false,,2025,", "claim_id", "the claim's id"),
        ("A,,99213,,,,,10001,,false,,2025,", "line", "a whole number from 1"),
        ("A,0,99213,,,,,10001,,false,,2025,", "line", "a whole number from 1"),
        ("A,1.5,99213,,,,,10001,,false,,2025,", "line", "a whole number from 1"),
        ("A,2,,,,,,10001,,false,,2025,", "code", "5-character CPT/HCPCS code"),
        ("A,2,9921,,,,,10001,,false,,2025,", "code", "5-character CPT/HCPCS code"),
        ("A,2,99213,-50,,,,10001,,false,,2025,", "modifiers", "2 letters or digits separated by spaces"),
        ('A,2,99213,"26,59",,,,10001,,false,,2025,', "modifiers", "2 letters or digits separated by spaces"),
        ("A,2,99213,5,,,,10001,,false,,2025,", "modifiers", "2 letters or digits separated by spaces"),
        ("A,2,99213,,two,,,10001,,false,,2025,", "units", "a number greater than 0"),
        ("A,2,99213,,0,,,10001,,false,,2025,", "units", "a number greater than 0"),
        ("A,2,99213,,1.2345,,,10001,,false,,2025,", "units", "at most 3 decimals"),
        ("A,2,00811,QK,,-5,,10001,,false,,2025,", "minutes", "a number 0 or more"),
        ("A,2,00811,QK,,\u0665\u0662,,10001,,false,,2025,", "minutes", "a number 0 or more"),  # Arabic-Indic 52
        ("A,2,99213,,,,,\uff11\uff10\uff10\uff10\uff11,,false,,2025,", "zip", "5-digit ZIP code"),  # fullwidth
        ("A,2,99213,,,,$100,10001,,false,,2025,", "charge", "without $"),
        ("A,2,99213,,,,-1.00,10001,,false,,2025,", "charge", "0 or more"),
        ("A,2,99213,,,,1.005,10001,,false,,2025,", "charge", "in dollars"),
        ("A,2,99213,,,,,1000,,false,,2025,", "zip", "5-digit ZIP code"),
        ("A,2,99213,,,,,,132020,false,,2025,", "locality", "2-digit locality"),
        ("A,2,99213,,,,,,,false,,2025,", "zip", "a zip or a locality on every line"),
        ("A,2,99213,,,,,10001,,maybe,,2025,", "facility", "true or false"),
        ("A,2,99213,,,,,10001,,false,RN,2025,", "provider", "one of MD, DO, NP, PA"),
        ("A,2,99213,,,,,10001,,false,,25,", "year", "4-digit year"),
        ("A,2,99213,,,,,10001,,false,,,", "year", "a year or a date of service"),
        ("A,2,99213,,,,,10001,,false,,,2025-02-30", "date", "YYYY-MM-DD"),
        ("A,2,99213,,,,,10001,,false,,,03/01/2025", "date", "YYYY-MM-DD"),
        ("A,2,99213,,,,,10001,,false,,2024,2025-03-01", "date", "in the year given in the year column"),
    ],
)
def test_bad_value_names_row_column_expected(tmp_path, row, column, expected):
    message = fails(tmp_path, BASE + GOOD + "\n" + row + "\n")  # a blank row still counts: the bad one is row 4
    assert f"in.csv, row 4, column '{column}'" in message
    assert expected in message
    assert "run again" in message  # what to do


def test_first_problem_in_file_order_and_count_of_others(tmp_path):
    message = fails(tmp_path, BASE + "A,1,99213,,x,,,10001,,false,,2025,\nA,2,9,,,,,10001,,false,,2025,\n" + GOOD)
    assert "row 2, column 'units'" in message and "1 more row has a problem too" in message


def test_duplicate_claim_line(tmp_path):
    message = fails(tmp_path, BASE + GOOD + "B,1,99213,,,,,10001,,false,,2025,\n" + " A ,01,99214,,,,,10001,,,,2025,\n")
    assert "row 4, column 'line'" in message and "line 1 twice (rows 2 and 4)" in message


def test_unknown_column_lists_accepted_ones(tmp_path):
    message = fails(tmp_path, "claim_id,line,code,zip,year,note\nA,1,99213,10001,2025,x\n")
    assert "row 1: unknown column 'note'" in message and ", ".join(COLUMNS) in message


def test_header_problems(tmp_path):
    assert "column 'code': missing column" in fails(tmp_path, "claim_id,line,zip,year\nA,1,10001,2025\n")
    assert "column 'year': missing column" in fails(tmp_path, "claim_id,line,code,zip\nA,1,99213,10001\n")
    assert "column 'zip': missing column" in fails(tmp_path, "claim_id,line,code,year\nA,1,99213,2025\n")
    assert "appears twice" in fails(tmp_path, "claim_id,line,code,Code,zip,year\nA,1,99213,99213,10001,2025\n")
    assert "column 3 has no name" in fails(tmp_path, "claim_id,line,,zip,year\nA,1,99213,10001,2025\n")
    assert "no header row" in fails(tmp_path, "")


def test_file_problems(tmp_path):
    message = fails(tmp_path, "claim_id,line,code,zip,year\nA,1,99213,10001,2025\nA,2,99213,10001\n")
    assert "row 3: this row has 4 fields but the header has 5" in message
    message = fails(tmp_path, b"claim_id,line,code,zip,year\nA\xe9,1,99213,10001,2025\n")
    assert "not UTF-8 text" in message and "line 2" in message
    message = fails(tmp_path, 'claim_id,line,code,zip,year\n"A,1,99213,10001,2025\n')
    assert "row 2" in message and "not valid CSV" in message


def test_huge_or_hostile_values_are_not_echoed(tmp_path):
    message = fails(tmp_path, "claim_id,line,code,zip,year\nA,1," + "9" * 5000 + ",10001,2025\n")
    assert "5000 characters" in message and len(message) < 600
    message = fails(tmp_path, "claim_id,line,code,zip,year\nA,1,99213,10001,2025\u202e\x1b[2J\n")
    assert "\x1b" not in message and "\u202e" not in message
    message = fails(tmp_path, "claim_id,line,code,zip,year\nA,1," + "9" * 20000 + ",10001,2025\n")
    assert "longer than 10000 characters" in message and len(message) < 600
    message = fails(tmp_path, "claim_id,line,code,zip,year,\x1b" + "x" * 500 + "\nA,1,99213,10001,2025,1\n")
    assert "unknown column" in message and "\x1b" not in message and len(message) < 600


def test_input_frame_for_the_pricer(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        BASE + "C9,3,g0121,53 xs,2,,99.5,10001-2345,,yes,cns,,2025-02-10\n"
        "C9,1,00811,qk,,52,,,13202-01,1,crna,2025,\n"
        "C9,2,99213,,,,,10001,,,,2025,2025-02-10\n"
    )
    original, lines = read_claims(src)
    assert original.columns == BASE.strip().split(",") and original.height == 3
    assert lines.schema == {
        "row_id": pl.Int64,
        "claim_key": pl.String,
        "line": pl.Int64,
        "procedure_code": pl.String,
        "modifiers": pl.List(pl.String),
        "units": pl.Decimal(14, 3),
        "minutes": pl.Decimal(14, 3),
        "charge": pl.Decimal(14, 2),
        "zip": pl.String,
        "locality": pl.String,
        "facility": pl.Boolean,
        "provider_type": pl.String,
        "year": pl.Int32,
        "service_date": pl.Date,
    }
    first, second, third = lines.rows(named=True)
    assert first["row_id"] == 2 and second["row_id"] == 3 and third["row_id"] == 4  # CSV rows, file order
    assert (first["procedure_code"], first["modifiers"], first["units"], first["charge"]) == (
        "G0121",
        ["53", "XS"],
        Decimal("2.000"),
        Decimal("99.50"),
    )
    assert (first["zip"], first["facility"], first["provider_type"], first["year"]) == ("100012345", True, "CNS", 2025)
    assert (second["modifiers"], second["minutes"], second["units"], second["locality"]) == (
        ["QK"],
        Decimal("52.000"),
        None,
        "13202-01",
    )
    assert second["service_date"] is None and second["provider_type"] == "CRNA" and second["facility"] is True
    assert third["facility"] is False and third["provider_type"] is None and third["charge"] is None


def test_header_only_file_has_no_lines(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("claim_id,line,code,zip,year\n")
    original, lines = read_claims(src)
    assert original.height == 0 and lines.height == 0


def test_quoted_and_plain_files_read_alike(tmp_path):
    # a file without quotes is split set-based, one with quotes by the csv module: same frames, same row numbers
    plain = BASE + GOOD + "\n" + "B,2,20610,26 59,2,,10.50,,13202-01,yes,PT,,2025-02-10\n,,,,,,,,,,,,\r\n"
    quoted = plain.replace("B,2,20610", '"B",2,"20610"')
    (tmp_path / "p.csv").write_text(plain)
    (tmp_path / "q.csv").write_text(quoted)
    p_original, p_lines = read_claims(tmp_path / "p.csv")
    q_original, q_lines = read_claims(tmp_path / "q.csv")
    assert p_original.equals(q_original) and p_lines.equals(q_lines)
    assert p_lines["row_id"].to_list() == [2, 4]
    for content in (BASE + GOOD + "A,2,99213\n", BASE + GOOD + '"A",2,99213\n'):
        assert "row 3: this row has 3 fields but the header has 13" in fails(tmp_path, content)


def test_bare_carriage_returns_end_rows_as_in_csv(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"claim_id,line,code,zip,year\rA,1,99213,10001,2025\rA,2,99214,10001,2025\r")
    _, lines = read_claims(src)
    assert lines["procedure_code"].to_list() == ["99213", "99214"] and lines["row_id"].to_list() == [2, 3]
