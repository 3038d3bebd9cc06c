"""Appeal packets: a letter to the payer for a worklist case (or one file for a payer's open cases), as HTML
and as PDF.

``write_appeals(con, out_dir, case_id=...)`` writes ``appeal-<payer>-<case id>.html`` and its PDF;
``write_appeals(con, out_dir, payer=..., status=...)`` writes ``appeal-<payer>-batch.html`` (and PDF) holding
one letter per open case of that payer. Files are mode 0600 in a 0700 folder (pipelines.core.outputs).

Every figure comes from the warehouse through reports/sql/appeal_cases.sql (the cases: practice and payer
from the latest remittance, claim, total owed, deadline) and reports/sql/appeal_lines.sql (the open lines:
billed, allowed and paid then and now, what the contract allows, owed, the contract term and its derivation,
the CARC/RARC codes). Python adds only the codes' meanings (reports/codes/*.csv) and arranges the rows into
the documented context below. Money stays Decimal and is shown as $1,234.56 (reports.render.money).

The letter is rendered from ``AppealContext`` with the strict Jinja environment of reports.render
(autoescape, StrictUndefined): templates/appeal.html.j2, or the user's own template (``template=FILE``,
``underpay appeal --template FILE``) which gets the same context and may include the packaged templates.
Patient names and member ids are masked (initials, last 4 of the member id) unless ``show_phi``.

PDF: headless Chromium (``chromium`` or ``chromium-browser`` on PATH, as `make browser` installs it) prints
the HTML with ``--print-to-pdf`` into a private temporary folder; the bytes are then written owner-only
beside the HTML. ``pdf`` says how much the PDF matters:

* ``True`` (the library's default, ``underpay appeal --pdf``): required. Without Chromium the HTML is still
  written and an UnderpayError says so and how to install Chromium (`make browser`).
* ``None`` (``underpay appeal`` without --pdf/--no-pdf): when Chromium is installed. Without it the HTML is
  written and ``AppealResult.pdf_note`` says the PDF needs Chromium; the command prints that note.
* ``False`` (``--no-pdf``): HTML only.

Chromium that is installed but fails or takes longer than ``PDF_TIMEOUT`` seconds is an UnderpayError
whenever a PDF was wanted (True or None).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2

from pipelines.core.errors import UnderpayError
from reports import queries
from reports.context import generated_at, version
from reports.meanings import meaning
from reports.render import ensure_dir, environment, safe_name, write_bytes, write_text

TEMPLATE = "appeal.html.j2"
PDF_TIMEOUT = 90  # seconds Chromium may take to print one packet
NEXT_STEP = "`underpay worklist list` shows the cases and their workflow status"


# ---------------------------------------------------------------- the context


@dataclass(frozen=True)
class Party:
    """The practice (payee: N1*PE of the case's latest remittance) or the payer (N1*PR and REF*2U).

    name; id: the payer id (payer) or None (practice); npi, tin: the practice's (None for the payer);
    address, city, state, zip: as the remittance gives them (any may be None)."""

    name: str | None
    id: str | None = None
    npi: str | None = None
    tin: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None

    @property
    def place(self) -> str:
        """'CITY, ST 12345' from what is known ('' when nothing is)."""
        city_state = ", ".join(p for p in (self.city, self.state) if p)
        return " ".join(p for p in (city_state, self.zip) if p)


@dataclass(frozen=True)
class AppealCode:
    """One adjustment code on the case's lines, with its meaning (reports/codes/*.csv).

    kind: 'CARC' or 'RARC'. code: as the remittance sent it ('CO-45' for a CARC with its group, 'N130').
    group / group_meaning: the CAS group (CO, PR, OA, PI, CR) and its meaning (None for RARCs).
    reason: the CARC number ('45') or the RARC; meaning: the reason's meaning."""

    kind: str
    code: str
    reason: str
    meaning: str
    group: str | None = None
    group_meaning: str | None = None


@dataclass(frozen=True)
class ContractTerm:
    """The contract term an appealed line was priced by: contract name, file name, the term's line in that
    file, the term as text, the contract's effective date."""

    contract: str | None
    file: str | None
    line: int | None
    term: str | None
    effective: date | None


@dataclass(frozen=True)
class AppealLine:
    """One open line of a case (reports/sql/appeal_lines.sql, one row).

    procedure_code, modifiers (list), units, service_date, line_control_number (REF*6R), line_key.
    category: underpaid | denied when detected; payment_status: what the remittances say now (underpaid,
    denied, partially_recovered, retracted). billed; original_allowed / original_paid: when detected;
    current_allowed / current_paid: now (net of reversals and corrections); expected_allowed: what the
    contract allows; owed = max(expected_allowed - current_allowed, 0). term: the ContractTerm;
    method: rate | rates_csv | percent_of_medicare | ...; derivation: how the expected amount was reached
    (variances.explanation, quoting the fee schedule for a percent-of-Medicare term);
    medicare_unit_amount / medicare_allowed / medicare_year / medicare_schedule / medicare_locality /
    medicare_setting / contract_percent: the fee schedule figures the comparison stored (it prices every line
    against Medicare; ``medicare_based`` says whether the term is a percent of a Medicare schedule).
    codes: the AppealCodes on the line (detection and latest remittance)."""

    line_key: str
    line_control_number: str | None
    procedure_code: str | None
    modifiers: list[str]
    units: Decimal | None
    service_date: date | None
    category: str
    payment_status: str
    billed: Decimal | None
    original_allowed: Decimal | None
    original_paid: Decimal | None
    current_allowed: Decimal | None
    current_paid: Decimal | None
    expected_allowed: Decimal | None
    owed: Decimal
    term: ContractTerm
    method: str | None
    derivation: str | None
    medicare_unit_amount: Decimal | None
    medicare_allowed: Decimal | None
    medicare_year: int | None
    medicare_schedule: str | None
    medicare_locality: str | None
    medicare_setting: str | None
    contract_percent: Decimal | None
    codes: list[AppealCode]

    @property
    def medicare_based(self) -> bool:
        """The term is a percent of a Medicare fee schedule (the Medicare figures explain the amount)."""
        return bool(self.method) and self.method.startswith("percent_of_") and self.method != "percent_of_charges"


@dataclass(frozen=True)
class AppealLetter:
    """One letter: one worklist case (reports/sql/appeal_cases.sql, one row, with its lines).

    case_id, workflow_status; note: the team's own note on the case (internal: the packaged template does
    not print it). practice, payer: Party. patient_control_number (CLP01), payer_claim_number (CLP07);
    patient, member_id: masked unless show_phi. service_from / service_to: dates of service of the open lines.
    detected_on / denied_on / last_adjustment_on: payment dates of the remittances. lines: the open
    AppealLines; terms: the distinct ContractTerms they were priced by; codes: the distinct AppealCodes on
    them (CARCs, then RARCs). total_owed: what the open lines are owed now (sum of their owed);
    amount_at_stake: the worklist's figure as of its last refresh. appeal_deadline, deadline_rule: the
    payer's appeal rule and its source (contracts/appeal_rules.yaml); days_left: days from the letter's date
    to the deadline (negative: passed; None: no deadline)."""

    case_id: int
    workflow_status: str
    note: str | None
    practice: Party
    payer: Party
    patient_control_number: str | None
    payer_claim_number: str | None
    patient: str | None
    member_id: str | None
    service_from: date | None
    service_to: date | None
    detected_on: date | None
    denied_on: date | None
    last_adjustment_on: date | None
    lines: list[AppealLine]
    terms: list[ContractTerm]
    codes: list[AppealCode]
    total_owed: Decimal
    amount_at_stake: Decimal
    appeal_deadline: date | None
    deadline_rule: str | None
    days_left: int | None

    @property
    def deadline_passed(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass
class AppealContext:
    """Everything templates/appeal.html.j2 (or a user's --template) reads, as top-level names.

    title: the page title. letters: the AppealLetters, earliest deadline first (one for --case).
    batch: True for a payer's batch file. payer_id / payer_name: the payer of the letters.
    status: the workflow-status filter of a batch (None: every status but closed).
    letter_date: the date the letters carry. batch_owed: the letters' total owed (SQL).
    show_phi: patient names and member ids are shown (else masked). generated_at, version: underpay's.
    Filters: money ($1,234.56), number, percent, cell (reports.render)."""

    title: str
    letters: list[AppealLetter]
    batch: bool
    payer_id: str
    payer_name: str | None
    status: str | None
    letter_date: date
    batch_owed: Decimal
    show_phi: bool = False
    generated_at: str = field(default_factory=generated_at)
    version: str = field(default_factory=version)

    def template_vars(self) -> dict:
        return {n: getattr(self, n) for n in self.__dataclass_fields__}


@dataclass
class AppealResult:
    """What `underpay appeal` prints: the files written and what they claim."""

    html: Path
    pdf: Path | None
    payer: str
    cases: list[int]
    lines: int
    total_owed: Decimal
    pdf_note: str | None = None  # why there is no PDF when one was wanted only if possible (pdf=None)
    seconds: float = 0.0

    def summary(self) -> str:
        files = "\n".join(f"  {p}" for p in (self.html, self.pdf) if p is not None)
        which = f"case {self.cases[0]}" if len(self.cases) == 1 else f"{len(self.cases)} cases"
        text = (
            f"Appeal packet {self.payer}: {which}, {self.lines} line(s), owed ${self.total_owed:,.2f} "
            f"({self.seconds:.1f} s)\n{files}"
        )
        if self.pdf_note:
            text += f"\nnote: {self.pdf_note}"
        return text


# ---------------------------------------------------------------- building it


def _codes(carc: list[str], rarc: list[str]) -> list[AppealCode]:
    out = []
    for code in carc:
        group, _, reason = code.partition("-")
        if not reason:  # a CARC stored without its group
            group, reason = "", group
        out.append(
            AppealCode(
                kind="CARC",
                code=code,
                reason=reason,
                meaning=meaning("carc", reason),
                group=group or None,
                group_meaning=meaning("groups", group) if group else None,
            )
        )
    out.extend(AppealCode(kind="RARC", code=code, reason=code, meaning=meaning("rarc", code)) for code in rarc)
    return out


def _distinct(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _line(row: dict) -> AppealLine:
    return AppealLine(
        line_key=row["line_key"],
        line_control_number=row["line_control_number"],
        procedure_code=row["procedure_code"],
        modifiers=list(row["modifiers"] or []),
        units=row["units"],
        service_date=row["service_date"],
        category=row["category"],
        payment_status=row["payment_status"],
        billed=row["billed"],
        original_allowed=row["original_allowed"],
        original_paid=row["original_paid"],
        current_allowed=row["current_allowed"],
        current_paid=row["current_paid"],
        expected_allowed=row["expected_allowed"],
        owed=row["owed"],
        term=ContractTerm(
            contract=row["contract"],
            file=row["contract_file"],
            line=row["term_line"],
            term=row["term"],
            effective=row["contract_effective"],
        ),
        method=row["method"],
        derivation=row["derivation"],
        medicare_unit_amount=row["medicare_unit_amount"],
        medicare_allowed=row["medicare_allowed"],
        medicare_year=row["medicare_year"],
        medicare_schedule=row["medicare_schedule"],
        medicare_locality=row["medicare_locality"],
        medicare_setting=row["medicare_setting"],
        contract_percent=row["contract_percent"],
        codes=_codes(list(row["carc_codes"] or []), list(row["rarc_codes"] or [])),
    )


def _letter(row: dict, lines: list[AppealLine]) -> AppealLetter:
    codes = _distinct(c for ln in lines for c in ln.codes)
    codes.sort(key=lambda c: c.kind)  # CARCs, then RARCs (stable: each in its sorted order)
    return AppealLetter(
        case_id=row["case_id"],
        workflow_status=row["workflow_status"],
        note=row["note"],
        practice=Party(
            name=row["practice_name"],
            npi=row["practice_npi"],
            tin=row["practice_tin"],
            address=row["practice_address"],
            city=row["practice_city"],
            state=row["practice_state"],
            zip=row["practice_zip"],
        ),
        payer=Party(
            name=row["payer_name"],
            id=row["payer_id"],
            address=row["payer_address"],
            city=row["payer_city"],
            state=row["payer_state"],
            zip=row["payer_zip"],
        ),
        patient_control_number=row["patient_control_number"],
        payer_claim_number=row["payer_claim_number"],
        patient=row["patient"],
        member_id=row["member_id"],
        service_from=row["service_from"],
        service_to=row["service_to"],
        detected_on=row["detected_on"],
        denied_on=row["denied_on"],
        last_adjustment_on=row["last_adjustment_on"],
        lines=lines,
        terms=_distinct(ln.term for ln in lines),
        codes=codes,
        total_owed=row["total_owed"],
        amount_at_stake=row["amount_at_stake"],
        appeal_deadline=row["appeal_deadline"],
        deadline_rule=row["deadline_rule"],
        days_left=row["days_left"],
    )


def _nothing_selected(rows: list[dict], *, case_id, payer, status) -> UnderpayError:
    """The error for a request that selects no case, saying why and what to run."""
    if case_id is not None:
        if not rows:
            return UnderpayError(f"no case {case_id} in the worklist; {NEXT_STEP}")
        return UnderpayError(
            f"case {case_id} has nothing left to appeal: none of its lines is still underpaid or denied "
            f"(recovered or written off); {NEXT_STEP}"
        )
    if not rows:
        return UnderpayError(f"no worklist cases for payer {payer!r}; {NEXT_STEP}")
    which = f"with workflow status {status!r}" if status is not None else "that are not closed"
    return UnderpayError(f"no open cases of payer {payer!r} {which}; {NEXT_STEP}")


def build_context(
    con: duckdb.DuckDBPyConnection,
    *,
    case_id: int | None = None,
    payer: str | None = None,
    status: str | None = None,
    show_phi: bool = False,
    today: date | None = None,
) -> AppealContext:
    """The context of the packet for one case (``case_id``) or a payer's open cases (``payer``, ``status``).

    UnderpayError when nothing matches (unknown case or payer, nothing owed, no case with that status)."""
    if (case_id is None) == (payer is None):
        raise UnderpayError("give a case (--case ID) or a payer (--payer ID) for the appeal packet, not both")
    if case_id is not None and status is not None:
        raise UnderpayError("--status filters a payer's batch (--payer); a single case (--case) is written as is")
    today = today or date.today()
    rows = queries.rows(
        con, "appeal_cases", case_id=case_id, payer=payer, status=status, show_phi=show_phi, today=today
    )
    chosen = [r for r in rows if r["selected"]]
    if not chosen:
        raise _nothing_selected(rows, case_id=case_id, payer=payer, status=status)
    ids = [r["case_id"] for r in chosen]
    by_case: dict[int, list[AppealLine]] = {i: [] for i in ids}
    for row in queries.rows(con, "appeal_lines", case_ids=ids):
        by_case[row["case_id"]].append(_line(row))
    letters = [_letter(r, by_case[r["case_id"]]) for r in chosen]
    first = chosen[0]
    batch = case_id is None
    title = (
        f"Appeal: {first['payer_name'] or first['payer_id']}, {len(letters)} claim(s)"
        if batch
        else f"Appeal: claim {first['patient_control_number'] or first['payer_claim_number'] or first['case_id']}"
    )
    return AppealContext(
        title=title,
        letters=letters,
        batch=batch,
        payer_id=first["payer_id"],
        payer_name=first["payer_name"],
        status=status,
        letter_date=today,
        batch_owed=first["batch_owed"],
        show_phi=show_phi,
    )


# ---------------------------------------------------------------- rendering


def _template(template: Path | str | None) -> jinja2.Template:
    """The packaged letter, or the user's template file with the same strict environment (autoescape,
    StrictUndefined, the money filters); it may include the packaged templates."""
    env = environment()
    if template is None:
        return env.get_template(TEMPLATE)
    path = Path(template)
    if not path.is_file():
        raise UnderpayError(
            f"{path}: template not found; give a Jinja HTML file (the packaged one is reports/templates/{TEMPLATE})"
        )
    user = env.overlay(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(path.parent)), env.loader]))
    try:
        return user.get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        raise UnderpayError(f"{exc.filename or path}:{exc.lineno}: template syntax error: {exc.message}") from None


def render_html(ctx: AppealContext, template: Path | str | None = None) -> str:
    """The packet's HTML; a user template's mistakes (an unknown name, a missing include) are UnderpayErrors."""
    tpl = _template(template)
    try:
        return tpl.render(**ctx.template_vars())
    except jinja2.UndefinedError as exc:
        raise UnderpayError(
            f"{template or TEMPLATE}: {exc.message}; the names a template can use are documented in "
            "reports/appeal.py (AppealContext, AppealLetter, AppealLine)"
        ) from None
    except jinja2.TemplateError as exc:
        raise UnderpayError(f"{template or TEMPLATE}: {exc}") from None


# ---------------------------------------------------------------- PDF


def find_chromium() -> str | None:
    """Headless Chromium as `make browser` installs it: ``chromium``, else ``chromium-browser`` (None: neither)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_missing(html: Path) -> str:
    return (
        f"the PDF needs headless Chromium, which is not installed (`make browser` installs it, or apt-get install "
        f"chromium); the HTML was written: {html}"
    )


def print_pdf(html: Path, pdf: Path, *, chromium: str | None = None, timeout: float = PDF_TIMEOUT) -> Path:
    """Print ``html`` to ``pdf`` (mode 0600) with headless Chromium; UnderpayError when it cannot."""
    exe = chromium or find_chromium()
    if exe is None:
        raise UnderpayError(chromium_missing(html))
    with tempfile.TemporaryDirectory(prefix="underpay-pdf-") as tmp:  # 0700: the PDF holds what the HTML holds
        out = Path(tmp) / "out.pdf"
        env = {**os.environ, "HOME": tmp, "XDG_CONFIG_HOME": tmp, "XDG_CACHE_HOME": tmp}
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            Path(html).resolve().as_uri(),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # Chromium and the helpers it started (its own session)
            proc.communicate()
            raise UnderpayError(
                f"Chromium ({exe}) did not print {html} to PDF within {timeout:.0f} s; the HTML was written "
                "(open it in a browser and print it, or run again with --no-pdf)"
            ) from None
        if proc.returncode != 0 or not out.is_file() or out.read_bytes()[:4] != b"%PDF":
            last = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()][-1:]
            said = f": {last[0][:200]}" if last else ""
            raise UnderpayError(
                f"Chromium ({exe}) could not print {html} to PDF (exit {proc.returncode}){said}; the HTML was "
                "written (run again with --no-pdf to skip the PDF)"
            )
        return write_bytes(Path(pdf), out.read_bytes())


# ---------------------------------------------------------------- the entry point


def packet_stem(payer: str, case_id: int | None) -> str:
    return f"appeal-{safe_name(payer)}-{case_id if case_id is not None else 'batch'}"


def write_appeals(
    con: duckdb.DuckDBPyConnection,
    out_dir,
    *,
    case_id: int | None = None,
    payer: str | None = None,
    status: str | None = None,
    show_phi: bool = False,
    pdf: bool | None = True,
    template: Path | str | None = None,
    today: date | None = None,
) -> AppealResult:
    """Write the appeal packet for one case (``case_id``) or one batch file for a payer's open cases
    (``payer``, optionally only those whose workflow status is ``status``) into ``out_dir`` (owner-only):
    ``appeal-<payer>-<case id | batch>.html`` and, per ``pdf`` (module docstring), its PDF.

    ``template``: a Jinja file to render instead of templates/appeal.html.j2 (context: AppealContext).
    ``today``: the letter's date (default today). UnderpayError when nothing matches or the PDF fails."""
    t0 = time.perf_counter()
    ctx = build_context(con, case_id=case_id, payer=payer, status=status, show_phi=show_phi, today=today)
    text = render_html(ctx, template)
    out = ensure_dir(Path(out_dir))
    stem = packet_stem(ctx.payer_id, case_id)
    html = write_text(out / f"{stem}.html", text)
    pdf_path, note = None, None
    if pdf is not False:
        exe = find_chromium()
        if exe is None and pdf is None:
            note = chromium_missing(html)
        else:
            pdf_path = print_pdf(html, out / f"{stem}.pdf", chromium=exe)
    return AppealResult(
        html=html,
        pdf=pdf_path,
        payer=ctx.payer_id,
        cases=[letter.case_id for letter in ctx.letters],
        lines=sum(len(letter.lines) for letter in ctx.letters),
        total_owed=ctx.batch_owed,
        pdf_note=note,
        seconds=time.perf_counter() - t0,
    )
