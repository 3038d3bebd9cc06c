"""Property tests: money formatting round-trips; PHI masking never leaks a whole name or member id."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.schema import ensure_schema
from reports import queries
from reports.render import money

amounts = st.decimals(
    min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False
)


@given(amounts)
def test_money_round_trips(d):
    text = money(d)
    assert Decimal(text.replace("$", "").replace(",", "")) == d
    assert text.count("$") == 1 and (text.startswith("-") == (d < 0))


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    ensure_schema(c)
    yield c
    c.close()


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=2, max_size=20
)
members = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=15)


@settings(max_examples=40, deadline=None)
@given(first=names, last=names, member=members)
def test_worklist_masks_phi(con, first, last, member):
    con.execute("DELETE FROM claims; DELETE FROM variances")
    con.execute(
        "INSERT INTO claims (claim_id, payment_id, file_id, segment_number, patient_first_name, patient_last_name, "
        "patient_member_id) VALUES (1, 1, 1, 20, ?, ?, ?)",
        [first, last, member],
    )
    con.execute(
        "INSERT INTO variances (line_id, claim_id, payment_month, category, explanation, variance, "
        "procedure_code) VALUES (1, 1, DATE '2026-03-01', 'underpaid', 'x', 5.00, '99213')"
    )
    params = dict(month=date(2026, 3, 1), payer=None, limit=None)
    masked = queries.rows(con, "worklist", show_phi=False, **params)[0]
    shown = queries.rows(con, "worklist", show_phi=True, **params)[0]
    assert shown["member_id"] == member and first in shown["patient"] and last in shown["patient"]
    visible = f"{masked['patient']} {masked['member_id']}"
    if len(member) > 4:
        assert member not in visible and masked["member_id"] == "****" + member[-4:]
    else:
        assert masked["member_id"] == "****"
    for name in (first, last):
        if len(name) >= 3 and "." not in name:
            assert name not in (masked["patient"] or "")
    assert len(masked["patient"] or "") <= 8  # two initials (upper-casing may lengthen one) and dots


@given(st.text(max_size=40))
def test_payer_ids_make_safe_file_names(text):
    from reports.render import safe_name

    name = safe_name(text)
    assert name and "/" not in name and "\\" not in name and not name.startswith(".")
