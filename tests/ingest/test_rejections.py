"""Structurally broken files are rejected whole: nothing loaded, era_files says why and where."""

from __future__ import annotations

import pytest

from pipelines.core.errors import X12Error
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.tables import parse_835
from tests.ingest.conftest import table_counts

CASES = [
    # file, segment, phrases the message must contain
    ("truncated.835", 27, ["never closed", "truncated", "expected SE"]),
    ("claim_837.835", 3, ["this is an 837 claim, not an 835", "ST01 = 835"]),
    (
        "bad_amount.835",
        16,
        ["unparseable number in CLP04", "a 6-character value (mixed text)", "at most 12 integer digits and 2 decimals"],
    ),
    ("bad_decimals.835", 27, ["SVC03", "a number with 2 integer digits and 3 decimals"]),
    (
        "garbage_no_isa.835",
        1,
        ["does not begin with an ISA header", "found text beginning with a 5-character value (letters)"],
    ),
]


@pytest.mark.parametrize("name,segment,phrases", CASES, ids=[c[0] for c in CASES])
def test_broken_file_is_rejected_whole(fixtures, con, name, segment, phrases):
    path = fixtures / name
    with pytest.raises(X12Error) as err:
        parse_835(path.read_bytes(), path)
    assert err.value.segment == segment
    message = str(err.value)
    assert message.startswith(str(path))
    for phrase in phrases:
        assert phrase in message

    result = ingest_paths([path], con)
    (outcome,) = result.files
    assert (outcome.status, outcome.error_segment) == ("rejected", segment)
    assert result.exit_code == 1
    counts = table_counts(con)
    assert counts["era_files"] == 1
    assert all(n == 0 for t, n in counts.items() if t != "era_files"), counts
    status, reason, seg, sha = con.execute("SELECT status, reason, error_segment, sha256 FROM era_files").fetchall()[0]
    assert (status, reason, seg) == ("rejected", message, segment)
    assert len(sha) == 64


def test_rejected_file_is_rejected_again_not_called_duplicate(fixtures, con):
    path = fixtures / "truncated.835"
    ingest_paths([path], con)
    again = ingest_paths([path], con).files[0]
    assert again.status == "rejected"


@pytest.mark.parametrize(
    "data,phrase",
    [
        (b"", "empty"),
        (b"   \n  ", "empty"),
        (b"ISA*00*  *00", "ISA header is truncated"),
        (b"%PDF-1.4 ...", "does not begin with an ISA header"),
    ],
)
def test_not_x12_at_all(data, phrase):
    with pytest.raises(X12Error, match=phrase) as err:
        parse_835(data, "in.835")
    assert err.value.segment == 1


def test_segments_outside_a_transaction_are_rejected(fixtures):
    raw = (fixtures / "good_5010.835").read_bytes().replace(b"GS*HP", b"CLP*X*1*1*1~\nGS*HP", 1)
    with pytest.raises(X12Error, match="outside any ST..SE") as err:
        parse_835(raw, "x.835")
    assert err.value.segment == 2


def test_transaction_without_bpr_is_rejected(fixtures):
    lines = (fixtures / "good_5010.835").read_text().splitlines()
    raw = "\n".join(line for line in lines if not line.startswith("BPR")).encode()
    with pytest.raises(X12Error, match="no BPR") as err:
        parse_835(raw, "x.835")
    assert err.value.segment == 3


def test_cas_without_amount_is_rejected(fixtures):
    raw = (fixtures / "good_5010.835").read_bytes().replace(b"CAS*CO*29*80.00", b"CAS*CO*29")
    with pytest.raises(X12Error, match="CAS adjustment without"):
        parse_835(raw, "x.835")
