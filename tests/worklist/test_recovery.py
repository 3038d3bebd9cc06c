"""Recovery across nights: month 1 remittances flag underpaid and denied lines; month 2 remittances correct
some of them, each of the ways a payer does it; `underpay nightly` runs over both. Every line's
payment_status and recovered_amount must be what the remittances say (keyed by REF*6R), people's edits
made between the nights stay, and interest is recorded but never counted as recovery.

Contract (written here): ACME1 pays 99213 at $100.00 and 20610 at $150.00 (rate terms, tolerance $0.01).
The remittances are INVENTED (tests/worklist/edi.py writes them as 835 files).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import duckdb
import openpyxl
import pytest

from pipelines.core.config import Settings
from pipelines.runs.nightly import run_nightly
from pipelines.worklist.cases import set_case
from pipelines.worklist.exchange import export_worklist, import_worklist
from tests.worklist.edi import Claim, Line, write_835

CONTRACT = """\
name: Acme rates
payer: {ids: ["ACME1"]}
payee_tins: ["123456789"]
effective: 2025-01-01
tolerance: {amount: 0.01, percent: 0}
terms:
  - codes: ["99213"]
    rate: 100.00
  - codes: ["20610"]
    rate: 150.00
"""
RULES = """\
payers:
  - ids: ["ACME1"]
    days: 90
    starts: last_adjustment
    source: "Acme Health provider manual 2025, 7.2 (invented for the test)"
"""


def visit(paid, allowed=None, control=None, adj=(), charge=D("200.00")):
    allowed = paid if allowed is None else allowed
    co = charge - allowed
    return Line("99213", charge, paid, allowed, [("CO", "45", co), *adj] if co else list(adj), control)


def reversal(line: Line) -> Line:  # CLP02=22: every amount negated
    return Line(
        line.code,
        -line.charge,
        -line.paid,
        -line.allowed if line.allowed is not None else None,
        [(g, r, -a) for g, r, a in line.adj],
        line.control,
    )


JAN, FEB = date(2025, 1, 20), date(2025, 2, 20)
M1 = {  # PCN -> (ICN, line)
    "PCN001": ("ICN1", visit(D("80.00"), control="C1-1")),  # underpaid 20: reversal + corrected claim (new ICN)
    "PCN002": ("ICN2", Line("99213", D("200.00"), D("0.00"), D("0.00"), [("CO", "50", D("200.00"))], "C2-1")),  # denied
    "PCN003": ("ICN3", visit(D("70.00"), control="C3-1")),  # underpaid 30: supplemental payment of 15 (partly)
    "PCN004": ("ICN4", visit(D("90.00"), control="C4-1")),  # underpaid 10: nothing comes
    "PCN005": ("ICN5", visit(D("60.00"), control="C5-1")),  # underpaid 40: reversal + corrected at 70 (partly)
    "PCN006": ("ICN6", visit(D("80.00"), control="C6-1")),  # underpaid 20: taken back, no correction
    "PCN007": ("ICN7", visit(D("85.00"))),  # underpaid 15, no REF*6R: corrected, no reversal
    "PCN008": (
        "ICN8",
        Line("20610", D("300.00"), D("150.00"), D("150.00"), [("CO", "45", D("150.00"))], "C8-1"),
    ),  # paid right
}


def month1(folder):
    claims = [Claim(pcn, "4" if pcn == "PCN002" else "1", icn, [line]) for pcn, (icn, line) in M1.items()]
    return write_835(folder / "acme-2025-01.835", claims, paid_on=JAN, trace="T2025JAN")


def month2(folder):
    c1, c5, c6 = M1["PCN001"][1], M1["PCN005"][1], M1["PCN006"][1]
    claims = [
        Claim("PCN001", "22", "ICN1", [reversal(c1)]),
        Claim("PCN001", "1", "ICN1B", [visit(D("100.00"), control="C1-1")], interest=D("2.50")),
        Claim("PCN002", "1", "ICN2B", [visit(D("100.00"), control="C2-1")], original_icn="ICN2"),
        Claim("PCN003", "1", "ICN3", [Line("99213", D("0.00"), D("15.00"), D("15.00"), [], "C3-1")]),
        Claim("PCN005", "22", "ICN5", [reversal(c5)]),
        Claim("PCN005", "1", "ICN5", [visit(D("70.00"), control="C5-1")]),
        Claim("PCN006", "22", "ICN6", [reversal(c6)]),
        Claim("PCN007", "1", "ICN7B", [visit(D("100.00"))]),
    ]
    return write_835(
        folder / "acme-2025-02.835", claims, paid_on=FEB, trace="T2025FEB", plb=[("L6", "ICN5", D("-1.25"))]
    )  # interest on PCN005 by PLB (negative: adds to the payment)


@pytest.fixture()
def site(tmp_path, mpfs_db):
    for name in ("inbox", "archive", "quarantine", "reports", "contracts"):
        (tmp_path / name).mkdir()
    (tmp_path / "contracts" / "acme.yaml").write_text(CONTRACT)
    (tmp_path / "contracts" / "appeal_rules.yaml").write_text(RULES)
    db = mpfs_db  # a private copy of the fee-schedule warehouse (tests/conftest.py)
    return Settings(
        warehouse=db,
        inbox=tmp_path / "inbox",
        archive=tmp_path / "archive",
        quarantine=tmp_path / "quarantine",
        contracts=tmp_path / "contracts",
        reports=tmp_path / "reports",
        practice_zip="10001",
        settle_seconds=0,
    )


def rows(db, sql, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def lines_by_pcn(db):
    got = rows(
        db,
        "SELECT w.patient_control_number, l.line_key, l.payment_status, l.recovered_amount, l.recovered_on "
        "FROM worklist_lines l JOIN worklist_claims w USING (case_id) ORDER BY 1",
    )
    return {pcn: (key, status, amount, on) for pcn, key, status, amount, on in got}


def test_two_nights_recover_each_way_and_keep_peoples_edits(site):
    month1(site.inbox)
    first = run_nightly(site)
    assert first.exit_code == 0, first.summary()
    night1 = lines_by_pcn(site.warehouse)
    assert {p: v[1] for p, v in night1.items()} == {
        "PCN001": "underpaid",
        "PCN002": "denied",
        "PCN003": "underpaid",
        "PCN004": "underpaid",
        "PCN005": "underpaid",
        "PCN006": "underpaid",
        "PCN007": "underpaid",
    }  # PCN008 was paid right: no case
    assert night1["PCN001"][0] == "C1-1" and night1["PCN007"][0].startswith("K:99213|")
    (case1,) = rows(site.warehouse, "SELECT case_id FROM worklist_claims WHERE patient_control_number = 'PCN001'")[0]
    (case4,) = rows(site.warehouse, "SELECT case_id FROM worklist_claims WHERE patient_control_number = 'PCN004'")[0]
    # people work the cases between the nights: one in the CLI's API, one in the exported spreadsheet
    con = duckdb.connect(str(site.warehouse))
    try:
        set_case(con, case1, actor="dana", workflow_status="submitted", assignee="dana", note="=appeal sent")
        sheet = site.reports / "cases.xlsx"
        export_worklist(con, sheet)
        wb = openpyxl.load_workbook(sheet)
        ws = wb["cases"]
        header = [c.value for c in ws[1]]
        row = next(r for r in ws.iter_rows(min_row=2) if r[header.index("case_id")].value == case4)
        row[header.index("workflow_status")].value = "in_review"
        row[header.index("due_date")].value = date(2025, 3, 1)
        wb.save(sheet)
        imported = import_worklist(con, sheet, "lee")
        assert len(imported.changed) == 1 and not imported.conflicts
    finally:
        con.close()

    month2(site.inbox)
    second = run_nightly(site)
    assert second.exit_code == 0, second.summary()
    got = lines_by_pcn(site.warehouse)
    want = {  # status, recovered (change in SVC03 since detection)
        "PCN001": ("recovered", D("20.00")),  # reversal -80 + corrected 100: paid 100 now
        "PCN002": ("recovered", D("100.00")),  # denied, corrected without reversal (REF*F8)
        "PCN003": ("partially_recovered", D("15.00")),  # supplemental 15 on the same ICN: allowed 85 of 100
        "PCN004": ("underpaid", D("0.00")),  # nothing came
        "PCN005": ("partially_recovered", D("10.00")),  # reversal + corrected at 70: 10 of 40
        "PCN006": ("retracted", D("-80.00")),  # taken back, no correction
        "PCN007": ("recovered", D("15.00")),  # corrected claim, new ICN, no reversal; matched by line key
    }
    assert {p: (v[1], v[2]) for p, v in got.items()} == want
    assert got["PCN001"][3] == FEB and got["PCN004"][3] is None
    cases = {
        r[0]: r[1:]
        for r in rows(
            site.warehouse,
            "SELECT patient_control_number, workflow_status, assignee, due_date, note, amount_at_stake, recovered_amount, "
            "interest_amount, open_lines, appeal_deadline FROM worklist_claims",
        )
    }
    assert cases["PCN001"][:4] == ("submitted", "dana", None, "=appeal sent")  # people's edits stay
    assert cases["PCN004"][:3] == ("in_review", None, date(2025, 3, 1))
    assert cases["PCN001"][6] == D("2.50") and cases["PCN005"][6] == D("1.25")  # interest: recorded ...
    assert cases["PCN001"][5] == D("20.00") and cases["PCN005"][5] == D("10.00")  # ... never recovery
    assert cases["PCN001"][4] == D("0.00") and cases["PCN001"][7] == 0  # nothing left open
    assert cases["PCN003"][4] == D("15.00") and cases["PCN006"][4] == D("100.00")  # the remainder stays open
    # appeal deadline: 90 days from the last adjustment (Acme's rule); PCN004 had none since January
    assert cases["PCN003"][8] == date(2025, 5, 21) and cases["PCN004"][8] == date(2025, 4, 20)
    events = rows(
        site.warehouse,
        "SELECT kind, actor, new_value FROM worklist_events WHERE case_id = ? ORDER BY event_id",
        [case1],
    )
    assert ("workflow_status", "dana", "submitted") in events and ("payment_status", "system", "recovered") in events
    # a third night with nothing new changes nothing
    third = run_nightly(site)
    assert third.exit_code == 0 and lines_by_pcn(site.warehouse) == got


def test_the_tables_hold_what_their_models_say(site):
    from pipelines.worklist.model import WorklistClaims, WorklistEvents, WorklistLines

    month1(site.inbox)
    assert run_nightly(site).exit_code == 0
    month2(site.inbox)
    assert run_nightly(site).exit_code == 0
    con = duckdb.connect(str(site.warehouse), read_only=True)
    try:
        for model, table in (
            (WorklistClaims, "worklist_claims"),
            (WorklistLines, "worklist_lines"),
            (WorklistEvents, "worklist_events"),
        ):
            model.validate(con.sql(f"SELECT * FROM {table}").pl(), lazy=True)
    finally:
        con.close()


def test_a_bad_appeal_rule_is_named_by_contracts_check(tmp_path):
    from contracts.check import check_folder

    (tmp_path / "acme.yaml").write_text(CONTRACT)
    (tmp_path / "appeal_rules.yaml").write_text(
        "default:\n  days: 180\n  starts: original_remittance\n  source: manuals\n"
        'payers:\n  - ids: ["ACME1"]\n    days: ninety\n    source: x\n'
        '  - ids: ["BRBS1"]\n    days: 30\n    starts: whenever\n    source: y\n'
    )
    problems = [p for p in check_folder(tmp_path) if p.file.endswith("appeal_rules.yaml")]
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [(7, "days"), (11, "starts")]
    assert all(p.severity == "error" for p in problems)
    (tmp_path / "appeal_rules.yaml").write_text(
        'payers:\n  - ids: ["ACME1"]\n    days: 90\n    starts: denial\n    source: manual\n'
    )
    assert not [p for p in check_folder(tmp_path) if p.file.endswith("appeal_rules.yaml")]
