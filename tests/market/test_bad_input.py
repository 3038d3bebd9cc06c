"""Bad input is refused with where (byte offset; for gzip, in the decompressed data, and it says so) and what
was expected, and nothing of the file is kept; a file imported before (same sha256) adds nothing."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib

import pytest

from pipelines.core.errors import InputFileError
from pipelines.market import load as L
from pipelines.market.load import import_in_network, import_market
from pipelines.market.rates import Keep
from tests.market.conftest import counts
from tests.market.reader import all_codes, load

FFS_2 = "v2.2.0/examples/in-network-rates/in-network-rates-fee-for-service-single-plan-sample.json"
ALL_TYPES = "v2.2.0/examples/in-network-rates/in-network-rates-all-negotiated-types-sample.json"
TOC = "v2.2.0/examples/table-of-contents/table-of-contents-sample.json"
PROVIDER_FILE = "v1.6.2/examples/provider-reference/provider-reference.json"
CODES = ["27447", "27448", "99214", "97110", "80053", "99285", "0200"]


def _refused(con, path, **kw):
    result = import_market(con, [path], codes=kw.pop("codes", CODES), **kw)
    assert [f.status for f in result.files] == ["refused"]
    assert result.exit_code == 1
    return result.files[0].reason


@pytest.fixture()
def good(con, tic):
    """A file imported before the bad one: it must stay whole."""
    result = import_market(con, [tic / ALL_TYPES], codes=CODES)
    assert result.files[0].status == "imported"
    return counts(con)


@pytest.mark.parametrize("cut", [1, 700, 2500, -3])
@pytest.mark.parametrize("chunk_bytes", [64, 1 << 20])
def test_truncated_file(con, tic, tmp_path, good, cut, chunk_bytes):
    data = (tic / FFS_2).read_bytes()
    data = data[:cut]
    path = tmp_path / "cut.json"
    path.write_bytes(data)
    reason = _refused(con, path, chunk_bytes=chunk_bytes)
    assert f"the JSON ends early at byte offset {len(data):,} of the file" in reason
    assert "cut short" in reason and "Download the file again" in reason and str(path) in reason
    assert counts(con) == good


@pytest.mark.parametrize("chunk_bytes", [64, 1000, 1 << 20])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_invalid_byte_is_placed_exactly(con, tic, tmp_path, good, chunk_bytes, where):
    """A ',' replaced by '#': refused at that byte's offset (in a chunk, at a chunk's start, past 30 bytes in)."""
    data = bytearray((tic / FFS_2).read_bytes())
    commas = [i for i, b in enumerate(data) if b == ord(",")]
    at = {"first": commas[0], "middle": commas[len(commas) // 2], "last": commas[-1]}[where]
    data[at : at + 1] = b"#"
    path = tmp_path / "bad.json"
    path.write_bytes(bytes(data))
    reason = _refused(con, path, chunk_bytes=chunk_bytes)
    assert f"invalid JSON at byte offset {at:,} of the file" in reason, reason
    assert "expected " in reason and "found '#" in reason
    assert counts(con) == good


def test_invalid_utf8_is_placed(con, tic, tmp_path, good):
    data = (tic / FFS_2).read_bytes()
    at = data.index(b"Knee Replacement")
    path = tmp_path / "latin1.json"
    path.write_bytes(data[:at] + b"\xff\xfe" + data[at + 2 :])
    reason = _refused(con, path)
    assert "UTF" in reason and "byte offset" in reason
    assert counts(con) == good


def test_truncated_gzip(con, tic, tmp_path, good):
    packed = gzip.compress((tic / FFS_2).read_bytes())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) - 40])
    reason = _refused(con, path)
    assert "the gzip data ends early" in reason and "of the decompressed data" in reason
    assert counts(con) == good


def test_corrupt_gzip(con, tic, tmp_path, good):
    """Bytes changed inside the deflate stream: refused whatever breaks first (zlib, the JSON in the garbage,
    the CRC), always placed in the decompressed data, and saying so."""
    packed = bytearray(gzip.compress((tic / FFS_2).read_bytes()))
    middle = len(packed) // 2
    packed[middle : middle + 8] = b"\xff" * 8
    path = tmp_path / "corrupt.json.gz"
    path.write_bytes(bytes(packed))
    reason = _refused(con, path)
    assert "decompressed data" in reason and "gzip" in reason, reason
    if "the gzip data is damaged" in reason:  # zlib's own error: placed where a byte-by-byte inflate stops
        assert f"at byte offset {_inflatable(bytes(packed)):,} of the decompressed data" in reason
    assert counts(con) == good


def test_invalid_json_in_gzip_is_placed_in_the_decompressed_data(con, tic, tmp_path, good):
    data = bytearray((tic / FFS_2).read_bytes())
    at = data.index(b'"in_network"') + 20
    data[at : at + 1] = b"@"
    path = tmp_path / "bad.json.gz"
    path.write_bytes(gzip.compress(bytes(data)))
    reason = _refused(con, path, chunk_bytes=100)
    assert f"invalid JSON at byte offset {at:,} of the decompressed data (the file is gzip)" in reason
    assert counts(con) == good


def _inflatable(packed: bytes) -> int:
    """Bytes a byte-at-a-time inflate of ``packed`` yields before zlib refuses it (the tests' own count)."""
    inflate, n, pending = zlib.decompressobj(wbits=31), 0, packed
    try:
        while out := inflate.decompress(pending, 1):
            n += len(out)
            pending = inflate.unconsumed_tail
    except zlib.error:
        return n
    raise AssertionError("the damaged gzip data inflated without error")


def test_gzip_is_read_by_its_bytes_not_its_name(con, tic, tmp_path):
    """A gzip file named .json and a plain one named .json.gz both import (the magic bytes decide)."""
    doc = load(tic / FFS_2)
    (tmp_path / "packed.json").write_bytes(gzip.compress((tic / FFS_2).read_bytes()))
    shutil.copy(tic / FFS_2, tmp_path / "plain.json.gz")
    result = import_market(con, [tmp_path / "packed.json", tmp_path / "plain.json.gz"], codes=all_codes(doc))
    assert [f.status for f in result.files] == ["imported", "imported"]
    a, b = result.files
    assert a.rates == b.rates > 0


@pytest.mark.parametrize("version_last", [False, True])
def test_unknown_schema_version(con, tic, tmp_path, good, version_last):
    doc = load(tic / FFS_2)
    doc["version"] = "9.0"
    if version_last:  # read only after every item: refused all the same
        doc = {k: v for k, v in doc.items() if k != "version"} | {"version": "9.0"}
    path = tmp_path / "v9.json"
    path.write_text(json.dumps(doc, default=float))
    reason = _refused(con, path)
    assert "schema version '9.0'" in reason and "1.x or 2.x" in reason
    assert counts(con) == good


def test_no_version(con, tic, tmp_path, good):
    doc = load(tic / FFS_2)
    del doc["version"]
    path = tmp_path / "unversioned.json"
    path.write_text(json.dumps(doc, default=float))
    assert 'has no "version"' in _refused(con, path)
    assert counts(con) == good


def test_table_of_contents_given_as_an_in_network_file(con, tic, good):
    with pytest.raises(InputFileError, match="it is a table of contents") as info:
        import_in_network(con, tic / TOC, Keep.of(CODES))
    assert str(tic / TOC) in str(info.value) and "not a TiC in-network rates file" in str(info.value)
    assert counts(con) == good


def test_provider_reference_file_given_as_an_in_network_file(con, tic, good):
    with pytest.raises(InputFileError, match="it is a provider-reference file"):
        import_in_network(con, tic / PROVIDER_FILE, Keep.of(CODES))
    assert counts(con) == good


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "the file is empty"),
        (b'[{"in_network": []}]', "not a TiC JSON file: byte offset 0 of the file starts something other"),
        (
            b'{"version": "2.0.0", "reporting_entity_name": "x"}',
            'has no "in_network" (its root keys: reporting_entity_name, version)',
        ),
        (b'{"version": "2.0.0", "in_network": {"a": 1}}', "in_network cannot be kept"),
        (
            b'{"version": "2.0.0", "in_network": []} trailing',
            "invalid JSON at byte offset 40 of the file",
        ),  # in 'trailing'
    ],
)
def test_not_an_in_network_file(con, tmp_path, good, text, message):
    path = tmp_path / "odd.json"
    path.write_bytes(text)
    assert message in _refused(con, path)
    assert counts(con) == good


def test_a_value_that_cannot_be_kept_names_its_place(con, tic, tmp_path, good):
    doc = load(tic / ALL_TYPES)
    doc["in_network"][3]["negotiated_rates"][0]["negotiated_prices"][0]["negotiated_rate"] = "forty-five"
    path = tmp_path / "word.json"
    path.write_text(json.dumps(doc, default=float))
    reason = _refused(con, path)
    assert "in_network[3].negotiated_rates[0].negotiated_prices[0].negotiated_rate cannot be kept" in reason
    assert "expected a number, found 'forty-five'" in reason
    assert counts(con) == good


def test_an_error_after_rows_were_written_rolls_everything_back(con, tic, good, monkeypatch):
    """Staged rows sent to DuckDB row by row and market_rates filled, then a failure: nothing of the file stays."""
    monkeypatch.setattr(L, "BATCH_ROWS", 1)

    def fail(*args, **kwargs):
        raise InputFileError("x", "failed while recording the manifest")

    monkeypatch.setattr(L, "_record", fail)
    doc = load(tic / FFS_2)
    with pytest.raises(InputFileError, match="failed while recording"):
        import_in_network(con, tic / FFS_2, Keep.of(all_codes(doc)))
    assert counts(con) == good
    temp = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'market_stage%'").fetchall()
    assert temp == [(0,)]


def test_same_bytes_again_add_nothing(con, tic, tmp_path, good):
    again = import_market(con, [tic / ALL_TYPES], codes=CODES)
    assert [f.status for f in again.files] == ["duplicate"]
    assert "nothing added" in again.files[0].reason and again.exit_code == 0
    renamed = shutil.copy(tic / ALL_TYPES, tmp_path / "renamed.json")
    assert import_market(con, [renamed], codes=CODES).files[0].status == "duplicate"
    assert counts(con) == good
