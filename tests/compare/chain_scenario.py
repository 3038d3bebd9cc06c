"""A small warehouse touching every category and every explanation branch that needs no CMS
file (rate, rates_csv and percent_of_charges contracts), for the golden test of the chain.

``build(builder, folder)`` writes the rows and the contracts; tests/compare/data/chain_golden.json
holds the variances rows the comparison made of them before the SQL was rewritten as a chain
(regenerate only for a deliberate change of behaviour, and say so in the commit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

HEADER = (
    'payee_tins: ["123456789"]\neffective: 2025-01-01\nexpires: 2026-12-31\ntolerance: {amount: 1.00, percent: 0.5}\n'
)


def build(b, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.yaml").write_text(
        'name: Acme\npayer: {ids: ["ACME1"], names: ["ACME HEALTH"]}\n'
        + HEADER
        + 'lesser_of_charges: true\nmodifier_adjustments: {"26": 40, "TC": 60, "50": 150}\nterms:\n'
        '  - codes: ["36415"]\n    exclude: true\n'
        '  - codes: ["99213"]\n    setting: facility\n    rate: 70\n'
        '  - codes: ["99213"]\n    setting: non-facility\n    rate: 100\n'
        '  - codes: ["99202-99215"]\n    rate: 90\n'
        '  - codes: ["20552", "20553"]\n    rate: 118.00\n'
        '  - codes: ["71046"]\n    rate: 80\n'
        '  - codes: ["97110"]\n    percent_of_charges: 60\n'
    )
    (folder / "unity.csv").write_text("code,modifier,rate\n99214,,120.50\n71046,,60.00\n71046,26,22.00\n")
    (folder / "unity.yaml").write_text(
        'name: Unity\npayer: {ids: ["UNITY"]}\n'
        + HEADER
        + 'rates_csv: unity.csv\nmodifier_adjustments: {"26": 40, "TC": 60}\nterms:\n'
        '  - codes: ["99202-99215"]\n    rate: 80\n'
    )
    (folder / "cedar.yaml").write_text(
        'name: Cedar\npayer: {ids: ["CEDAR"]}\n' + HEADER + 'terms:\n  - codes: ["*"]\n    percent_of_medicare: 105\n'
    )
    (folder / "old.yaml").write_text(
        'name: Old Plan\npayer: {ids: ["OLD01"]}\npayee_tins: ["123456789"]\neffective: 2024-01-01\n'
        'expires: 2024-12-31\nterms:\n  - codes: ["*"]\n    rate: 50\n'
    )

    acme = b.payment()
    c1 = b.claim(acme, pos="11")
    b.line(c1, "99213", 150, allowed=D("100.00"), adj=[("CO", "45", 50)])  # correct
    b.line(c1, "99214", 200, allowed=D("80.00"), adj=[("CO", "45", 120)])  # underpaid
    b.line(c1, "20553", 300, units=2, adj=[("CO", "45", 40)])  # overpaid, no B6
    b.line(c1, "36415", 20, adj=[("CO", "45", 5)])  # carved out
    b.line(c1, "99999", 50, adj=[("CO", "45", 5)])  # no term
    b.line(c1, "97110", 100, units=3, adj=[("CO", "45", 40), ("PR", "2", 10)])  # percent of charges
    b.line(c1, "71046", 70, mods=["26"], adj=[("CO", "45", 40)])  # table 26, lesser of
    b.line(c1, "20552", 400, mods=["50", "LT"], adj=[("CO", "45", 220)], original_code="20550")  # table 50, recoded
    b.line(c1, "99214", 60, allowed=D("55.00"), adj=[("CO", "45", 5)])  # lesser of billed
    c2 = b.claim(b.payment(), pos="2")  # POS 02 -> facility
    b.line(c2, "99213", 150, adj=[("CO", "45", 80)])
    c3 = b.claim(b.payment(), pos="10")  # POS 10 -> office
    b.line(c3, "99213", 150, adj=[("CO", "45", 50)])
    c4 = b.claim(b.payment(), pos="22", status="4")  # denied
    b.line(c4, "99213", 150, adj=[("CO", "97", 150)], remarks=["N20"])
    c5 = b.claim(b.payment())  # pending
    b.line(c5, "99213", 150, adj=[("CO", "45", 50)], claim_adj=[("OA", "133", 0)])
    c6 = b.claim(b.payment(), status="2")  # secondary
    b.line(c6, "99213", 150, adj=[("CO", "45", 50)])
    c7 = b.claim(b.payment(), status="21")  # tertiary
    b.line(c7, "99213", 150, adj=[("CO", "45", 50)])
    orig = b.claim(acme, pcn="PCN-R", icn="ICN-R", charge=D("150"))  # reversed pair
    b.line(orig, "99213", 150, adj=[("CO", "45", 50)])
    rev = b.claim(b.payment(paid_on=dt.date(2025, 4, 10)), status="22", pcn="PCN-R", icn="ICN-R", charge=D("-150"))
    b.line(rev, "99213", -150, adj=[("CO", "45", -50)])
    lonely = b.claim(b.payment(), status="22", pcn="PCN-L", charge=D("-90"))  # original not loaded
    b.line(lonely, "99213", -90)

    unity = b.payment("UNITY", "UNITY HEALTH PLAN")
    u1 = b.claim(unity)
    b.line(u1, "99214", 200, allowed=D("120.50"), adj=[("CO", "45", 79.50)])  # rate sheet row
    b.line(u1, "71046", 90, mods=["26"], adj=[("CO", "45", 70)])  # code+modifier row
    b.line(u1, "71046", 90, mods=["TC"], adj=[("CO", "45", 60)])  # code row x TC 60%
    b.line(u1, "99213", 120, adj=[("CO", "45", 40)])  # term (no sheet row)
    b.line(u1, "93000", 60, adj=[("CO", "45", 10)])  # no term
    b.line(b.claim(b.payment("OLD01", "OLD PLAN")), "99213", 100, adj=[("CO", "45", 50)])  # no version in force
    b.line(b.claim(b.payment("CEDAR", "CEDAR HEALTH")), "99213", 100, adj=[("CO", "45", 50)])  # not priced
    b.line(b.claim(b.payment("NOPE1", "NOBODY INSURANCE")), "99213", 100, adj=[("CO", "45", 50)])  # no contract
