"""Proposal files (negotiation pack) are read in bounded time and memory, like contracts: the
rate sheet a proposal names stays inside its folder, is a regular file, and is never echoed."""

from __future__ import annotations

import os

import pytest

from pipelines.core.errors import InputFileError
from reports.proposal import load_proposal


def _proposal(tmp_path, body: str):
    f = tmp_path / "proposal.yaml"
    f.write_text(body)
    return f


@pytest.mark.parametrize("name", ["/dev/zero", "/etc/passwd", "../secret.csv", "sub/../../secret.csv", "~/x.csv"])
def test_rates_csv_outside_the_folder_is_refused_unread(tmp_path, name):
    (tmp_path / "secret.csv").write_text("code,rate\n99213,1.00\nSECRET-CONTENT\n")
    inner = tmp_path / "p"
    inner.mkdir()
    with pytest.raises(InputFileError) as err:
        load_proposal(_proposal(inner, f"rates_csv: {name}\n"))
    assert "outside" in str(err.value) and "SECRET" not in str(err.value)


def test_rates_csv_fifo_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "rates.csv")
    with pytest.raises(InputFileError, match="not a regular file"):
        load_proposal(_proposal(tmp_path, "rates_csv: rates.csv\n"))


def test_rates_csv_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.csv").write_text("code,rate\n99213,1.00\n")
    inner = tmp_path / "p"
    inner.mkdir()
    (inner / "rates.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(InputFileError, match="outside"):
        load_proposal(_proposal(inner, "rates_csv: rates.csv\n"))


def test_rates_csv_inside_the_folder_loads(tmp_path):
    (tmp_path / "rates.csv").write_text("\ufeffcode,modifier,rate\n99213,,98.50\n")
    p = load_proposal(_proposal(tmp_path, "rates_csv: rates.csv\npercent_of_medicare: 120\n"))
    assert str(p.rates[("99213", "")]) == "98.50"


def test_yaml_bomb_and_duplicate_keys_are_refused_in_one_short_line(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for n in "bcdefgh":
        prev = chr(ord(n) - 1)
        bomb += f"{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
    bomb += "percent_of_medicare: *h\n"
    with pytest.raises(InputFileError) as err:
        load_proposal(_proposal(tmp_path, bomb))
    assert len(str(err.value)) < 400
    with pytest.raises(InputFileError, match="duplicate key"):
        load_proposal(_proposal(tmp_path, "percent_of_medicare: 120\npercent_of_medicare: 130\n"))


def test_a_long_bad_code_is_not_echoed_in_full(tmp_path):
    f = tmp_path / "rates.csv"
    f.write_text("code,rate\n" + "9" * 100_000 + ",1.00\n")
    with pytest.raises(InputFileError) as err:
        load_proposal(f)
    assert len(str(err.value)) < 400


def test_a_csv_that_is_not_utf8_names_its_line(tmp_path):
    f = tmp_path / "rates.csv"
    f.write_bytes(b"code,rate\n99213,1.00\n\xff\xfe,2\n")
    with pytest.raises(InputFileError, match="line 3|row 3"):
        load_proposal(f)
