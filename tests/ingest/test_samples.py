"""Every public sample 835 in ../shared/samples/era loads with the file's own counts and sums,
or is rejected for a stated reason. Expected figures come from an independent, deliberately
naive reading of the bytes (split on '~' and line breaks, count and add with Decimal), not
from the parser under test."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import ERA_SAMPLES, needs_shared

pytestmark = needs_shared("samples", "era")  # third-party files: the module skips, in one line, without them

SAMPLES = sorted(ERA_SAMPLES.glob("*.835"))

# files that must be rejected, with a phrase the reason must contain
REJECTED = {
    "pyx12_mult_isa.835": "this is a 278 services review, not an 835",
}


def naive_figures(raw: bytes) -> dict:
    text = raw.decode("latin-1").replace("\ufeff", "").replace("\xef\xbb\xbf", "")
    pieces = [p.strip().lstrip("~").strip() for p in re.split(r"[~\r\n]+", text)]
    figures = {"ST": 0, "CLP": 0, "SVC": 0, "BPR02": Decimal(0), "CLP04": Decimal(0), "SVC03": Decimal(0)}
    for p in pieces:
        m = re.match(r"^(ST|CLP|SVC|BPR)([*|])", p)
        if not m:
            continue
        tag, el = m.group(1), p.split(m.group(2))
        if tag in ("ST", "CLP", "SVC"):
            figures[tag] += 1
        if tag == "BPR":
            figures["BPR02"] += Decimal(el[2])
        elif tag == "CLP" and len(el) > 4 and el[4]:
            figures["CLP04"] += Decimal(el[4])
        elif tag == "SVC" and len(el) > 3 and el[3]:
            figures["SVC03"] += Decimal(el[3])
    return figures


def test_all_33_samples_are_present():
    assert len(SAMPLES) == 33, f"expected the 33 sample files in {ERA_SAMPLES}"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_loads_with_its_own_totals_or_is_rejected(path, con):
    from pipelines.ingest.load import ingest_paths

    result = ingest_paths([path], con)
    (outcome,) = result.files
    if path.name in REJECTED:
        assert outcome.status == "rejected"
        assert REJECTED[path.name] in outcome.reason
        assert path.name in outcome.reason and outcome.error_segment is not None
        row = con.execute("SELECT status, reason, error_segment FROM era_files").fetchall()
        assert row == [("rejected", outcome.reason, outcome.error_segment)]
        assert con.execute("SELECT count(*) FROM payments").fetchall()[0][0] == 0
        return
    assert outcome.status == "loaded", outcome.reason
    want = naive_figures(path.read_bytes())
    got = con.execute("""
        SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM claims),
               (SELECT count(*) FROM service_lines),
               (SELECT coalesce(sum(total_paid), 0) FROM payments),
               (SELECT coalesce(sum(paid), 0) FROM claims),
               (SELECT coalesce(sum(paid), 0) FROM service_lines)""").fetchall()[0]
    assert got == (want["ST"], want["CLP"], want["SVC"], want["BPR02"], want["CLP04"], want["SVC03"])
    assert (outcome.claims, outcome.lines) == (want["CLP"], want["SVC"])
    # every row keeps the segment number that produced it
    for table in ("payments", "claims", "service_lines", "adjustments"):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE segment_number IS NULL").fetchall()[0][0] == 0


def test_samples_loaded_together_flag_resent_payments_instead_of_doubling(con):
    """Several public samples are the same TR3 example re-sent: the second copy must not double."""
    from pipelines.ingest.load import ingest_paths

    result = ingest_paths(SAMPLES, con)
    assert result.rejected == len(REJECTED)
    dup_pairs = con.execute("""
        SELECT count(*) FROM payments p JOIN payments o ON p.resent_of_payment_id = o.payment_id
        WHERE p.trace_number = o.trace_number AND p.total_paid = o.total_paid""").fetchall()[0][0]
    flagged = con.execute("SELECT count(*) FROM payments WHERE resent_of_payment_id IS NOT NULL").fetchall()[0][0]
    assert flagged > 0 and dup_pairs == flagged
    # no claim belongs to a flagged payment
    assert (
        con.execute("""SELECT count(*) FROM claims c JOIN payments p USING (payment_id)
                          WHERE p.resent_of_payment_id IS NOT NULL""").fetchall()[0][0]
        == 0
    )


def test_latin1_name_is_kept(con):
    from pipelines.ingest.load import ingest_paths

    ingest_paths([ERA_SAMPLES / "oxedi_latin1_patient_name.835"], con)
    names = {r[0] for r in con.execute("SELECT patient_last_name FROM claims").fetchall()}
    assert any("\u00fc" in (n or "") for n in names), names


def test_reversal_pairs_within_a_sample(con):
    from pipelines.ingest.load import ingest_paths

    ingest_paths([ERA_SAMPLES / "oopfactory_4010_example1_grip_elements.835"], con)
    rows = con.execute("""SELECT r.claim_id, o.claim_id, r.payer_claim_number, o.payer_claim_number
                          FROM claims r JOIN claims o ON r.reverses_claim_id = o.claim_id""").fetchall()
    for rid, oid, rnum, onum in rows:
        assert rnum == onum and rid != oid
        assert con.execute("SELECT reversed_by_claim_id FROM claims WHERE claim_id = ?", [oid]).fetchall()[0][0] == rid
