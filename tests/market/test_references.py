"""Provider groups inline (1.x), by provider_group_id, from a separate provider-reference file (the 1.6.2
example) or missing; provider_references after in_network (2.0) read in the same single pass."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pytest

from pipelines.market.load import import_market
from pipelines.market.source import inspect
from pipelines.market.stream import walk
from tests.market.reader import all_codes, expected_rows, load, stored_rows

FFS_1 = "v1.6.2/examples/in-network-rates/in-network-rates-fee-for-service-single-plan-sample.json"
PROVIDER_FILE = "v1.6.2/examples/provider-reference/provider-reference.json"
ALL_TYPES = "v2.2.0/examples/in-network-rates/in-network-rates-all-negotiated-types-sample.json"
URL = "https://www.cms.gov/some_provider_group.json"


def _dump(doc, path):
    path.write_text(json.dumps(doc, default=lambda d: float(d) if d % 1 else int(d), indent=1))
    return path


def _referencing_the_url(tic, tmp_path):
    """The 1.6.2 ffs example with 27448's first rate referencing groups 1 and 2 (2: by URL only)."""
    doc = load(tic / FFS_1)
    assert doc["provider_references"][1] == {"provider_group_id": 2, "location": URL}
    doc["in_network"][1]["negotiated_rates"][0]["provider_references"] = [1, 2]
    folder = tmp_path / "payer"
    folder.mkdir()
    return doc, _dump(doc, folder / "in-network.json")


def test_inline_and_by_id_in_the_1x_example(con, tic):
    """27447's rates give their groups inline, 27448's first by provider_group_id 1: both resolved."""
    doc = load(tic / FFS_1)
    result = import_market(con, [tic / FFS_1], codes=["27447", "27448"], institutional=True)
    f = result.files[0]
    assert stored_rows(con) == expected_rows(doc, {"27447", "27448"}, ("professional", "institutional"))
    by_id = con.execute(
        "SELECT tin, npi_count FROM market_rates WHERE billing_code = '27448' AND negotiated_rate = 12003.45 ORDER BY tin"
    ).fetchall()
    assert by_id == [("11-1111111", 5), ("22-2222222", 5)]
    # group 2 is by URL only and no rate of the file uses it; it is still a file the import was not given
    assert f.missing_references == [URL]
    assert con.execute("SELECT missing_references FROM market_files").fetchall() == [([URL],)]
    assert f.unknown_providers == 0


def test_provider_reference_file_beside_the_in_network_file(con, tic, tmp_path):
    doc, path = _referencing_the_url(tic, tmp_path)
    shutil.copy(tic / PROVIDER_FILE, path.parent / "some_provider_group.json")
    external = {2: load(tic / PROVIDER_FILE)["provider_groups"]}
    f = import_market(con, [path], codes=all_codes(doc)).files[0]
    assert f.status == "imported", f.reason
    assert f.missing_references == [] and f.provider_files == [str(path.parent / "some_provider_group.json")]
    assert stored_rows(con) == expected_rows(doc, all_codes(doc), external=external)
    # 22-2222222 is in group 1 (5 NPIs) and in the file (2 of those NPIs): one row, 5 NPIs counted once
    assert con.execute(
        "SELECT tin, npi_count FROM market_rates WHERE negotiated_rate = 12003.45 ORDER BY tin"
    ).fetchall() == [("11-1111111", 5), ("22-2222222", 5)]
    assert con.execute("SELECT missing_references FROM market_files").fetchall() == [(None,)]


def test_provider_reference_file_given_on_the_command_line(con, tic, tmp_path):
    doc, path = _referencing_the_url(tic, tmp_path)
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    given = shutil.copy(tic / PROVIDER_FILE, elsewhere / "some_provider_group.json")
    result = import_market(con, [given, path], codes=all_codes(doc))
    assert [f.path for f in result.files] == [str(path)]  # the provider-reference file is no in-network file
    assert result.files[0].provider_files == [str(given)]
    external = {2: load(tic / PROVIDER_FILE)["provider_groups"]}
    assert stored_rows(con) == expected_rows(doc, all_codes(doc), external=external)


def test_missing_provider_reference_file(con, tic, tmp_path):
    """Not given: its URL in missing_references; the prices that use it keep a row with tin empty."""
    doc, path = _referencing_the_url(tic, tmp_path)
    f = import_market(con, [path], codes=["27448"]).files[0]
    assert f.missing_references == [URL]
    assert stored_rows(con) == expected_rows(doc, {"27448"})
    assert con.execute("SELECT negotiated_rate, tin, npi_count FROM market_rates WHERE tin IS NULL").fetchall() == [
        (Decimal("12003.4500"), None, 0)
    ]
    assert f.unknown_providers == 1


def test_undefined_provider_group_id_keeps_the_price_without_providers(con, tic, tmp_path):
    doc = load(tic / ALL_TYPES)
    doc["in_network"][0]["negotiated_rates"][0]["provider_references"] = [1, 99]
    path = _dump(doc, tmp_path / "dangling.json")
    f = import_market(con, [path], codes=["99214"]).files[0]
    assert stored_rows(con) == expected_rows(doc, {"99214"})
    assert f.unknown_providers == 1


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 20])
def test_provider_references_after_in_network(con, tic, tmp_path, chunk_bytes):
    """A 2.0 file with provider_references after in_network: one pass, references resolved at the end; with
    64-byte chunks the items are handed on while the file is read, before any reference is known."""
    doc = load(tic / ALL_TYPES)
    late = {k: v for k, v in doc.items() if k != "provider_references"}
    late["provider_references"] = doc["provider_references"]
    path = _dump(late, tmp_path / "late.json")
    assert path.read_text().index('"in_network"') < path.read_text().index('"provider_references"')
    f = import_market(con, [path], codes=all_codes(doc), institutional=True, chunk_bytes=chunk_bytes).files[0]
    assert f.status == "imported", f.reason
    assert stored_rows(con) == expected_rows(doc, all_codes(doc), ("professional", "institutional"))
    assert f.unknown_providers == 0


def test_items_are_handed_on_while_the_file_is_read(tic, tmp_path):
    """The stream never holds the file: each in_network item reaches the loader before the end of the text
    (here, before provider_references, which follow it, have been read at all)."""
    doc = load(tic / ALL_TYPES)
    late = {k: v for k, v in doc.items() if k != "provider_references"}
    late["provider_references"] = doc["provider_references"]
    path = _dump(late, tmp_path / "late.json")
    reads = [0]
    handed: list[tuple[str, int]] = []  # (root key, chunks read when the item was handed on)

    def on_chunk():
        reads[0] += 1

    counts = walk(inspect(path), lambda key, i, obj: handed.append((key, reads[0])), chunk_bytes=64, on_chunk=on_chunk)
    assert counts == {"in_network": 6, "provider_references": 2}
    assert [k for k, _ in handed] == ["in_network"] * 6 + ["provider_references"] * 2
    items = [n for key, n in handed if key == "in_network"]
    assert items[0] < items[-1] < reads[0]  # one by one as read, all before the end of the file


def test_a_table_of_contents_never_reads_a_path_outside_its_folder(tmp_path):
    """A location in a table of contents is text from the file: `..`, an absolute path or a file:// URL
    leading out of the TOC's folder is not read (reported as not read), a file inside it is."""
    from pipelines.market.toc import local_copy

    folder = tmp_path / "toc"
    folder.mkdir()
    (folder / "in-network.json").write_text("{}")
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    (folder / "link.json").symlink_to(outside)
    assert local_copy("in-network.json", folder) == folder / "in-network.json"
    for hostile in ("../secret.json", str(outside), f"file://{outside}", "link.json", "sub/../../secret.json"):
        assert local_copy(hostile, folder) is None, hostile
