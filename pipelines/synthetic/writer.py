"""Synthetic 835 writer: realistic remittances with known truth, for tests, benchmarks and the demo.

`write_remittances(spec, out_dir)` writes valid 005010X221A1 files (one interchange and one
ST/SE payment per payer per week) and returns the truth, one row per service line written.
`write_big(path, n_lines, seed)` writes one large interchange fast for the benchmarks by
stamping pre-rendered claims with fresh identifiers.

Every amount is a `decimal.Decimal` rounded half-up to the cent, and every file balances:
per line SVC02 - SVC03 = sum of its CAS, per claim CLP03 - CLP04 = sum of its CAS, per
transaction BPR02 = sum CLP04 - sum PLB. Names and member ids are fake (member ids start
with "SYN"). The same spec and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.core.money import MONEY, ZERO, to_cent
from pipelines.synthetic import codes as codebook

WRITER_VERSION = 2  # bump when the bytes written for a given seed change (benchmarks re-generate)


@dataclass(frozen=True)
class SynthPayer:
    payer_id: str  # written as N1*PR04 (qualifier XV) and REF*2U; TRN03 = "1" + tin
    name: str  # N1*PR02
    kind: str = "commercial"  # "medicare": PR-2 20% coinsurance + CO-253 2% sequestration
    share: float = 0.2  # fraction of claims sent to this payer
    tin: str = "999999999"


@dataclass(frozen=True)
class SynthPayee:
    name: str = "MIDTOWN FAMILY MEDICINE PC"
    npi: str = "1234567893"
    tin: str = "123456789"
    address: str = "350 FIFTH AVENUE"
    city: str = "NEW YORK"
    state: str = "NY"
    zip: str = "10001"


def default_payers() -> list[SynthPayer]:
    return [
        SynthPayer("13202", "NGS MEDICARE PART B", "medicare", 0.30, "135598881"),
        SynthPayer("ACME1", "ACME HEALTH", "commercial", 0.20, "111111111"),
        SynthPayer("BRBS1", "BLUE RIDGE BCBS", "commercial", 0.20, "222222222"),
        SynthPayer("UNITY", "UNITY HEALTH PLAN", "commercial", 0.15, "333333333"),
        SynthPayer("CEDAR", "CEDAR COMMERCIAL INSURANCE", "commercial", 0.15, "444444444"),
    ]


@dataclass
class SynthSpec:
    start: date = date(2025, 1, 1)  # first month of service dates
    months: int = 1
    claims_per_month: int = 300
    max_lines_per_claim: int = 4
    seed: int = 0
    payers: list[SynthPayer] = field(default_factory=default_payers)
    payee: SynthPayee = field(default_factory=SynthPayee)
    # Contract allowed amount per unit. Columns: payer_id, procedure_code, modifier ("" = none),
    # facility (bool), unit_allowed (Decimal(14,2)). When given, only codes priced for the payer
    # are billed to it, and every line that is not injected is allowed exactly unit_allowed x units.
    # The price row is found by the pricing modifier only (26 or TC, else ""); modifiers that do
    # not change the price (25, 51, 59, GP, LT, RT) are written but not looked up.
    prices: pl.DataFrame | None = None
    codes: list[str] | None = None  # default: built-in list of common CPT/HCPCS codes
    underpay_rate: float = 0.03  # lines allowed below the contract (beyond any tolerance)
    denial_rate: float = 0.05
    reversal_rate: float = 0.01  # claims reversed and corrected in a later file
    secondary_rate: float = 0.0  # claims processed as secondary (CLP02=2)
    plb_rate: float = 0.1  # payments carrying PLB (interest, recoupment)
    facility_rate: float = 0.15  # claims with a facility place of service
    # Fraction of claims carrying two same-day procedures with MULT PROC indicator 2; the lower
    # ranked one is allowed at 50% (Medicare MPPR). 0 keeps contract expectations MPPR-free:
    # then a claim has at most one code with any multiple-procedure indicator, at 1 unit.
    mppr_rate: float = 0.0
    missing_allowed_rate: float = 0.15  # paid lines written without AMT*B6
    # element separator, component separator, segment terminator, text after each terminator
    delimiters: tuple[str, str, str, str] = ("*", ":", "~", "\n")


@dataclass
class SynthResult:
    files: list[Path]
    # One row per service line written (reversal/correction lines included):
    # file_name, payer_id, trace_number, payment_date, patient_control_number,
    # payer_claim_number, claim_status, place_of_service, facility, line_control_number,
    # procedure_code, modifiers (list[str]), units, service_date, billed, contract_allowed,
    # actual_allowed, paid, patient_responsibility, injected (null | underpaid | denied |
    # reversed | secondary), underpaid_by
    # Extra columns: payer_kind, pricing_modifier, allowed_written (AMT*B6 present),
    # sequestration (CO-253), carc (denial reason "CO-97"...), mppr_rank (1/2 on MPPR claims).
    # (trace_number, claim_status, line_control_number) is unique: a reversal (status 22) and
    # its correction (status 1, CLP07 = original + "R") echo the original line control numbers
    # in one later payment.
    truth: pl.DataFrame
    # One row per ST/SE: file_name, payer_id, trace_number, payment_date, total_paid, claims, lines
    payments: pl.DataFrame | None = None
    # One row per PLB amount: file_name, trace_number, reason_code, reference_id, amount
    provider_adjustments: pl.DataFrame | None = None


# --------------------------------------------------------------------------- money and text


def money(value) -> Decimal:
    """Half-up to the cent (never float arithmetic: floats go through str first)."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return to_cent(value)


def x12_amount(value: Decimal) -> str:
    """X12 R element: no trailing zeros, no exponent ("92.5", "150", "-12.34")."""
    text = f"{value:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _npi(prefix9: str) -> str:
    """A Luhn-valid NPI (check digit over 80840 + the first nine digits)."""
    digits = "80840" + prefix9
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix9 + str((10 - total % 10) % 10)


LAST = (
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ "
    "LOPEZ GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON "
    "WHITE HARRIS SANCHEZ CLARK RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT "
    "TORRES NGUYEN HILL FLORES GREEN ADAMS NELSON BAKER HALL RIVERA CAMPBELL MITCHELL"
).split()
FIRST = (
    "JAMES MARY ROBERT PATRICIA JOHN JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA "
    "RICHARD SUSAN JOSEPH JESSICA THOMAS SARAH CHARLES KAREN CHRISTOPHER LISA DANIEL NANCY "
    "MATTHEW BETTY ANTHONY SANDRA MARK MARGARET DONALD ASHLEY STEVEN KIMBERLY ANDREW EMILY "
    "PAUL DONNA JOSHUA MICHELLE KENNETH CAROL KEVIN AMANDA BRIAN MELISSA"
).split()
RENDERING = (
    ("CHEN", "ALICE", _npi("123456780")),
    ("OKAFOR", "DANIEL", _npi("123456781")),
    ("PATEL", "PRIYA", _npi("123456782")),
    ("KOWALSKI", "MARK", _npi("123456783")),
)
PAYER_ADDRESS = (
    ("PO BOX 14079", "LEXINGTON", "KY", "40512"),
    ("PO BOX 30555", "SALT LAKE CITY", "UT", "84130"),
    ("PO BOX 2291", "DURHAM", "NC", "27702"),
    ("PO BOX 981106", "EL PASO", "TX", "79998"),
    ("PO BOX 7401", "LONDON", "KY", "40742"),
)

# line denials: (group, CARC, RARC or "")
LINE_DENIALS = (
    ("CO", "97", "M15"),
    ("CO", "97", "N19"),
    ("CO", "16", "M51"),
    ("CO", "16", "N290"),
    ("CO", "50", "N115"),
    ("CO", "96", "N130"),
    ("PR", "204", "N130"),
    ("CO", "B7", ""),
)


def _fraction(*parts) -> float:
    """A stable pseudo-random fraction in [0, 1) from the parts (independent of the rng stream)."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


# --------------------------------------------------------------------------- model


@dataclass
class _Line:
    code: str
    modifiers: list[str]
    pricing_modifier: str
    units: int
    billed: Decimal
    contract: Decimal | None
    allowed: Decimal = ZERO
    paid: Decimal = ZERO
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    write_allowed: bool = True
    injected: str | None = None
    underpaid_by: Decimal = ZERO
    carc: str | None = None
    mppr_rank: int | None = None
    lcn: str = ""

    @property
    def patient_share(self) -> Decimal:
        return sum((a for g, _, a in self.cas if g == "PR"), ZERO)

    @property
    def sequestration(self) -> Decimal:
        return sum((a for g, r, a in self.cas if r == "253"), ZERO)

    def negated(self) -> _Line:
        return _Line(
            self.code,
            self.modifiers,
            self.pricing_modifier,
            self.units,
            -self.billed,
            self.contract,
            -self.allowed,
            -self.paid,
            [(g, r, -a) for g, r, a in self.cas],
            list(self.remarks),
            self.write_allowed,
            "reversed",
            ZERO,
            self.carc,
            self.mppr_rank,
            self.lcn,
        )


@dataclass
class _Claim:
    pcn: str
    payer: SynthPayer
    payer_index: int
    service_date: date
    pos: str
    facility: bool
    patient: tuple[str, str, str]  # last, first, member id
    insured: tuple[str, str, str] | None
    rendering: tuple[str, str, str]
    lines: list[_Line]
    payer_claim_number: str
    status: str = "1"
    injected: str | None = None
    frequency: str = "1"
    write_units: bool = True

    @property
    def charge(self) -> Decimal:
        return sum((l.billed for l in self.lines), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((l.paid for l in self.lines), ZERO)

    @property
    def patient_share(self) -> Decimal:
        return sum((l.patient_share for l in self.lines), ZERO)

    @property
    def filing(self) -> str:
        if self.payer.kind == "medicare":
            return "MB"
        return "12" if self.payer_index % 2 else "HM"  # 5010 CLP06 has no "CI"


# --------------------------------------------------------------------------- pricing


class _Prices:
    """Contract unit prices (spec.prices) or the writer's default 55-80% of charges."""

    def __init__(self, spec: SynthSpec):
        self.table: dict[tuple[str, str, str, bool], Decimal] | None = None
        if spec.prices is not None:
            self.table = {}
            for row in spec.prices.select(
                "payer_id", "procedure_code", "modifier", "facility", "unit_allowed"
            ).iter_rows():
                payer_id, code, modifier, facility, unit = row
                self.table[(str(payer_id), str(code), modifier or "", bool(facility))] = money(unit)

    def unit(self, payer: SynthPayer, code: codebook.Code, modifier: str, facility: bool) -> Decimal | None:
        if self.table is not None:
            return self.table.get((payer.payer_id, code.code, modifier, facility))
        factor = Decimal(str(round(0.55 + 0.25 * _fraction(payer.payer_id, code.code), 2)))
        base = Decimal(code.charge)
        if modifier == "26":
            base = money(base * Decimal("0.3"))
        elif modifier == "TC":
            base = money(base * Decimal("0.7"))
        if facility and code.category not in ("imaging",):
            factor -= Decimal("0.1")
        return money(base * factor)


def unit_charge(code: codebook.Code, modifier: str, unit_allowed: Decimal | None) -> Decimal:
    charge = Decimal(code.charge)
    if modifier == "26":
        charge = Decimal((code.charge * 3 // 50 + 1) * 5)
    elif modifier == "TC":
        charge = Decimal((code.charge * 7 // 50 + 1) * 5)
    if unit_allowed is not None:
        floor = (unit_allowed * Decimal("1.25") / 5).to_integral_value(rounding="ROUND_CEILING") * 5
        charge = max(charge, floor + 5)
    return money(charge)


# --------------------------------------------------------------------------- generation


class _Generator:
    def __init__(self, spec: SynthSpec):
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.prices = _Prices(spec)
        wanted = spec.codes or [c.code for c in codebook.COMMON_CODES]
        self.codes = [codebook.lookup(c) for c in wanted]
        self.claim_seq = 0
        self._option_cache: dict[tuple[str, bool], list] = {}

    # ---- codes available to a payer in a setting
    def _options(self, payer: SynthPayer, facility: bool) -> list[tuple[codebook.Code, str, Decimal]]:
        key = (payer.payer_id, facility)
        if key not in self._option_cache:
            self._option_cache[key] = self._priced_options(payer, facility)
        return self._option_cache[key]

    def _priced_options(self, payer: SynthPayer, facility: bool) -> list[tuple[codebook.Code, str, Decimal]]:
        out = []
        for code in self.codes:
            if code.has_components:
                mods = ["26"] if facility else ["", "", "", "TC", "26"]
            else:
                mods = [code.bill_modifier]
            for mod in dict.fromkeys(mods):
                unit = self.prices.unit(payer, code, mod, facility)
                if unit is not None:
                    out.append((code, mod, unit))
        return out

    def _choose_lines(self, payer: SynthPayer, facility: bool, mppr: bool):
        rng = self.rng
        options = self._options(payer, facility)
        if not options:
            return []
        em = [o for o in options if o[0].category == "em"]
        other = [o for o in options if o[0].category not in ("em", "addon")]
        addon = [o for o in options if o[0].category == "addon"]
        chosen: list[tuple[codebook.Code, str, Decimal]] = []
        n = rng.randint(1, max(1, self.spec.max_lines_per_claim))
        if mppr:
            procs = [o for o in other if o[0].mult_proc == "2"]
            if len({o[0].code for o in procs}) < 2:
                return []
            first = rng.choice(procs)
            second = rng.choice([o for o in procs if o[0].code != first[0].code])
            chosen = [first, second]
            if em and rng.random() < 0.5:
                chosen.insert(0, rng.choice(em))
            return chosen
        if em and (rng.random() < 0.8 or not other):
            chosen.append(rng.choice(em))
        have_multi = False
        tries = 0
        while len(chosen) < n and tries < 12:
            tries += 1
            pool = other if (rng.random() < 0.8 or not addon) else addon
            if not pool:
                break
            pick = rng.choice(pool)
            if any(c[0].code == pick[0].code for c in chosen):
                continue
            if pick[0].category == "addon" and not any(c[0].category == "em" for c in chosen):
                continue
            if pick[0].multiple_procedure:
                if have_multi:
                    continue
                have_multi = True
            chosen.append(pick)
        return self._with_administration(chosen, options)

    @staticmethod
    def _with_administration(chosen, options):
        """A drug or vaccine comes with its administration code (90471 for a vaccine, else 96372) when the
        payer prices it; a drug whose administration the payer does not price is left off."""
        out = list(chosen)
        for drug in [c for c in chosen if c[0].category == "drug"]:
            admin = "90471" if drug[0].code.startswith("9") else "96372"
            found = [o for o in options if o[0].code == admin]
            if not found:
                out.remove(drug)
            elif not any(c[0].code == admin for c in out):
                out.append(found[0])
        return out

    def _line(self, payer, code, mod, unit, claim_codes, mppr) -> _Line:
        rng = self.rng
        units = 1
        if code.max_units > 1 and (not code.multiple_procedure or mppr):
            units = rng.randint(1, code.max_units)
        modifiers = [mod] if mod else []
        if code.category == "em" and any(c.category != "em" and c.category != "addon" for c in claim_codes):
            modifiers.append("25")
        if code.category == "therapy":
            modifiers.append("GP")
        if code.code in ("73030", "73110", "73560", "73610", "20610") and rng.random() < 0.5:
            modifiers.append(rng.choice(("RT", "LT")))
        contract = money(unit * units) if unit is not None else None
        billed = money(unit_charge(code, mod, unit) * units)
        return _Line(code.code, modifiers, mod, units, billed, contract)

    def _patient(self):
        rng = self.rng
        return (rng.choice(LAST), rng.choice(FIRST), f"SYN{rng.randrange(10**8, 10**9)}")

    def claim(self, service_date: date) -> _Claim | None:
        spec, rng = self.spec, self.rng
        payers = spec.payers
        idx = rng.choices(range(len(payers)), weights=[max(p.share, 0.0) for p in payers])[0]
        payer = payers[idx]
        facility = rng.random() < spec.facility_rate
        pos = rng.choices(("22", "24", "21"), weights=(6, 3, 1))[0] if facility else "11"
        mppr = rng.random() < spec.mppr_rate
        picks = self._choose_lines(payer, facility, mppr)
        if not picks:
            return None
        claim_codes = [p[0] for p in picks]
        lines = [self._line(payer, c, m, u, claim_codes, mppr) for c, m, u in picks]
        if mppr:
            self._apply_mppr(lines, payer)
        self.claim_seq += 1
        pcn = f"PCN{service_date:%y}{self.claim_seq:07d}"
        for i, line in enumerate(lines, 1):
            line.lcn = f"{pcn}L{i}"
        patient = self._patient()
        insured = None
        if rng.random() < 0.25:
            insured = (patient[0], rng.choice(FIRST), patient[2])
        claim = _Claim(
            pcn,
            payer,
            idx,
            service_date,
            pos,
            facility,
            patient,
            insured,
            rng.choice(RENDERING),
            lines,
            payer_claim_number=f"{idx + 1}{service_date:%y%j}{self.claim_seq:07d}",
            write_units=(idx % 4 != 3),
        )
        self._adjudicate(claim)
        return claim

    def _apply_mppr(self, lines: list[_Line], payer: SynthPayer) -> None:
        procs = [l for l in lines if codebook.lookup(l.code).mult_proc == "2"]
        procs.sort(key=lambda l: (-(l.contract or ZERO), l.code))
        for rank, line in enumerate(procs, 1):
            line.mppr_rank = rank
            if rank > 1 and line.contract is not None:
                line.contract = money(line.contract * Decimal("0.5"))
                if payer.kind != "medicare":
                    line.modifiers.append("51")

    # ---- adjudication: allowed, patient share, CAS, paid
    def _adjudicate(self, claim: _Claim) -> None:
        spec, rng = self.spec, self.rng
        roll = rng.random()
        if claim.payer.kind != "medicare" and roll < spec.secondary_rate:
            claim.status, claim.injected = "2", "secondary"
            for line in claim.lines:
                self._pay_secondary(line)
            return
        if rng.random() < spec.reversal_rate:
            claim.injected = "reversal"  # the original, underpaid; reversed later
            for line in claim.lines:
                self._pay(claim, line, underpay=True)
                line.injected = "reversed"
            return
        if rng.random() < spec.denial_rate * 0.2:
            for line in claim.lines:  # whole claim denied for timely filing
                self._deny(line, ("CO", "29", ""))
            claim.status = "4"
            return
        for line in claim.lines:
            if rng.random() < spec.denial_rate:
                self._deny(line, rng.choice(LINE_DENIALS))
            else:
                self._pay(claim, line, underpay=rng.random() < spec.underpay_rate)
        if all(l.injected == "denied" for l in claim.lines):
            claim.status = "4"

    def _deny(self, line: _Line, denial) -> None:
        group, carc, rarc = denial
        line.allowed, line.paid = ZERO, ZERO
        line.cas = [(group, carc, line.billed)]
        line.remarks = [rarc] if rarc else []
        line.injected, line.carc = "denied", f"{group}-{carc}"
        line.write_allowed = group == "PR"  # AMT*B6*0 on patient-owed denials

    def _pay(self, claim: _Claim, line: _Line, underpay: bool) -> None:
        rng = self.rng
        allowed = line.contract if line.contract is not None else ZERO
        if underpay and allowed >= Decimal("12.00"):
            cut = max(Decimal("5.00"), money(allowed * Decimal(str(round(rng.uniform(0.04, 0.20), 3)))))
            cut = min(cut, money(allowed * Decimal("0.5")))
            line.underpaid_by = cut
            line.injected = "underpaid"
            allowed -= cut
        line.allowed = allowed
        cas: list[tuple[str, str, Decimal]] = []
        if line.billed > allowed:
            cas.append(("CO", "45", line.billed - allowed))
        patient: list[tuple[str, str, Decimal]] = []
        if claim.payer.kind == "medicare":
            remaining = allowed
            if claim.service_date.month <= 2 and rng.random() < 0.15:
                deductible = min(remaining, money(rng.uniform(20, 257)))
                patient.append(("PR", "1", deductible))
                remaining -= deductible
            coins = money(remaining * Decimal("0.20"))
            if coins:
                patient.append(("PR", "2", coins))
            seq = money((allowed - sum((a for _, _, a in patient), ZERO)) * Decimal("0.02"))
            if seq:
                cas.append(("CO", "253", seq))
        else:
            code = codebook.lookup(line.code)
            r = rng.random()
            if code.category == "em" and r < 0.6:
                copay = min(allowed, Decimal(rng.choice((20, 25, 30, 40, 50))))
                patient.append(("PR", "3", money(copay)))
            elif r < 0.8:
                share = money(allowed * Decimal(str(rng.choice((0.1, 0.2, 0.3)))))
                patient.append(("PR", "2", share))
            elif r < 0.9:
                deductible = money(allowed * Decimal(str(round(rng.uniform(0.3, 1.0), 2))))
                patient.append(("PR", "1", deductible))
        patient = [p for p in patient if p[2] > 0]
        line.cas = cas + patient
        line.paid = line.billed - sum((a for _, _, a in line.cas), ZERO)
        line.write_allowed = rng.random() >= self.spec.missing_allowed_rate
        if line.injected == "underpaid" and rng.random() < 0.3:
            line.remarks = ["N381"]

    def _pay_secondary(self, line: _Line) -> None:
        rng = self.rng
        allowed = line.contract if line.contract is not None else ZERO
        prior = money(allowed * Decimal(str(round(rng.uniform(0.6, 0.8), 2))))
        patient = money((allowed - prior) * Decimal(str(rng.choice((0, 0, 0.5)))))
        line.allowed = allowed
        line.cas = [
            c for c in (("CO", "45", line.billed - allowed), ("OA", "23", prior), ("PR", "2", patient)) if c[2] > 0
        ]
        line.paid = line.billed - sum((a for _, _, a in line.cas), ZERO)
        line.injected = "secondary"
        line.write_allowed = True


# --------------------------------------------------------------------------- rendering


class _Writer:
    """Renders segments as lists of strings joined with the spec's delimiters."""

    def __init__(self, delimiters: tuple[str, str, str, str]):
        self.e, self.c, self.t, self.nl = delimiters
        self.rep = "^" if "^" not in (self.e, self.c, self.t) else "{"

    def seg(self, *elements: str) -> str:
        return self.e.join(elements).rstrip(self.e)  # trailing empty elements are not written

    def isa(self, sender: str, receiver: str, when: date, control: int) -> str:
        e = self.e
        return e.join(
            [
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                "ZZ",
                sender[:15].ljust(15),
                "ZZ",
                receiver[:15].ljust(15),
                f"{when:%y%m%d}",
                "1200",
                self.rep,
                "00501",
                f"{control:09d}",
                "0",
                "P",
                self.c,
            ]
        )

    def header(
        self,
        payer: SynthPayer,
        payee: SynthPayee,
        payer_index: int,
        st: str,
        total: Decimal,
        trace: str,
        pay_date: date,
    ) -> list[str]:
        s = self.seg
        amount = x12_amount(total)
        if total <= 0:
            bpr = s("BPR", "H", amount, "C", "NON", *[""] * 11, f"{pay_date:%Y%m%d}")
        elif payer.kind != "medicare" and payer_index % 3 == 2:
            bpr = s("BPR", "I", amount, "C", "CHK", *[""] * 11, f"{pay_date:%Y%m%d}")
        else:
            bpr = s(
                "BPR",
                "I",
                amount,
                "C",
                "ACH",
                "CCP",
                "01",
                "0" + payer.tin[:8],
                "DA",
                f"{payer_index + 1:04d}00123",
                "1" + payer.tin,
                "",
                "01",
                "021000021",
                "DA",
                "987654321",
                f"{pay_date:%Y%m%d}",
            )
        addr = PAYER_ADDRESS[payer_index % len(PAYER_ADDRESS)]
        return [
            s("ST", "835", st),
            bpr,  # ST03 is not used in the 835
            s("TRN", "1", trace, "1" + payer.tin),
            s("DTM", "405", f"{pay_date - timedelta(days=2):%Y%m%d}"),
            s("N1", "PR", payer.name, "XV", payer.payer_id),
            s("N3", addr[0]),
            s("N4", addr[1], addr[2], addr[3]),
            s("REF", "2U", payer.payer_id),
            s("PER", "BL", "PROVIDER SERVICES", "TE", f"800555{1000 + payer_index * 7:04d}"),
            s("N1", "PE", payee.name, "XX", payee.npi),
            s("N3", payee.address),
            s("N4", payee.city, payee.state, payee.zip),
            s("REF", "TJ", payee.tin),
        ]

    def claim(
        self,
        claim: _Claim,
        status: str,
        lines: list[_Line],
        *,
        pcn: str | None = None,
        clp07: str | None = None,
        lcn_base: str | None = None,
    ) -> list[str]:
        s, c = self.seg, self.c
        charge = sum((l.billed for l in lines), ZERO)
        paid = sum((l.paid for l in lines), ZERO)
        patient = sum((l.patient_share for l in lines), ZERO)
        out = [
            s(
                "CLP",
                pcn or claim.pcn,
                status,
                x12_amount(charge),
                x12_amount(paid),
                x12_amount(patient),
                claim.filing,
                clp07 or claim.payer_claim_number,
                claim.pos,
                claim.frequency,
            )
        ]
        last, first, member = claim.patient
        if lcn_base is not None:
            member = "SYN" + lcn_base
        out.append(s("NM1", "QC", "1", last, first, "", "", "", "MI", member))
        if claim.insured:
            out.append(s("NM1", "IL", "1", claim.insured[0], claim.insured[1], "", "", "", "MI", member))
        out.append(s("NM1", "82", "1", claim.rendering[0], claim.rendering[1], "", "", "", "XX", claim.rendering[2]))
        d = f"{claim.service_date:%Y%m%d}"
        out += [
            s("DTM", "232", d),
            s("DTM", "233", d),
            s("DTM", "050", f"{claim.service_date + timedelta(days=2 + claim.payer_index):%Y%m%d}"),
        ]
        for i, line in enumerate(lines, 1):
            comp = c.join(["HC", line.code, *line.modifiers])
            units = str(line.units) if (claim.write_units or line.units != 1) else ""
            out.append(s("SVC", comp, x12_amount(line.billed), x12_amount(line.paid), "", units))
            out.append(s("DTM", "472", d))
            for group in ("CO", "OA", "PI", "PR"):
                trip = [t for t in line.cas if t[0] == group]
                for k in range(0, len(trip), 6):
                    elements = ["CAS", group]
                    for j, (_, reason, amount) in enumerate(trip[k : k + 6]):
                        elements += ([""] if j else []) + [reason, x12_amount(amount)]
                    out.append(s(*elements))
            lcn = line.lcn if lcn_base is None else f"{lcn_base}L{i}"
            out.append(s("REF", "6R", lcn))
            if line.write_allowed:
                out.append(s("AMT", "B6", x12_amount(line.allowed)))
            if line.remarks:
                out.append(s("LQ", "HE", line.remarks[0]))
        return out

    def join(self, segments: list[str]) -> str:
        sep = self.t + self.nl
        return sep.join(segments) + sep


# --------------------------------------------------------------------------- payments


@dataclass
class _Entry:
    """One claim as written in one payment (original, reversal or correction)."""

    claim: _Claim
    status: str
    lines: list[_Line]
    clp07: str


def _payment_day(d: date, payer_index: int) -> date:
    weekday = payer_index % 5  # each payer pays on its own weekday
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def write_remittances(spec: SynthSpec, out_dir: Path) -> SynthResult:
    """Write `spec.months` of remittances into out_dir: one file (ISA/GS/ST..SE/GE/IEA) per payer
    per payment week, named <payer_id>_<YYYYMMDD>_<n>.835, and return the truth frames."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = _Generator(spec)
    rng = gen.rng
    payments: dict[tuple[int, date], list[_Entry]] = {}

    def add(idx: int, day: date, entry: _Entry) -> None:
        payments.setdefault((idx, day), []).append(entry)

    first = date(spec.start.year, spec.start.month, 1)
    for m in range(spec.months):
        y, mo = first.year + (first.month - 1 + m) // 12, (first.month - 1 + m) % 12 + 1
        month_start = date(y, mo, 1)
        next_month = date(y + (mo == 12), mo % 12 + 1, 1)
        days = [month_start + timedelta(days=i) for i in range((next_month - month_start).days)]
        workdays = [d for d in days if d.weekday() < 5]
        made = 0
        attempts = 0
        while made < spec.claims_per_month and attempts < spec.claims_per_month * 20:
            attempts += 1
            service = rng.choice(workdays)
            claim = gen.claim(service)
            if claim is None:
                continue
            made += 1
            pay = _payment_day(service + timedelta(days=rng.randint(10, 34)), claim.payer_index)  # 10-40 days
            add(claim.payer_index, pay, _Entry(claim, claim.status, claim.lines, claim.payer_claim_number))
            if claim.injected == "reversal":
                later = pay + timedelta(days=7 * rng.randint(1, 3))
                add(
                    claim.payer_index,
                    later,
                    _Entry(claim, "22", [l.negated() for l in claim.lines], claim.payer_claim_number),
                )
                corrected = [
                    _Line(
                        l.code,
                        l.modifiers,
                        l.pricing_modifier,
                        l.units,
                        l.billed,
                        l.contract,
                        lcn=l.lcn,
                        mppr_rank=l.mppr_rank,
                    )
                    for l in claim.lines
                ]
                for line in corrected:
                    gen._pay(claim, line, underpay=False)
                add(claim.payer_index, later, _Entry(claim, "1", corrected, claim.payer_claim_number + "R"))

    writer = _Writer(spec.delimiters)
    files: list[Path] = []
    truth_rows: list[dict] = []
    payment_rows: list[dict] = []
    plb_rows: list[dict] = []
    per_payer_seq: dict[int, int] = {}
    control_base = 100000 + (spec.seed % 9000) * 10000
    for n, (idx, day) in enumerate(sorted(payments, key=lambda k: (k[1], k[0])), 1):
        entries = sorted(payments[(idx, day)], key=lambda e: (e.claim.service_date, e.claim.pcn, e.status != "22"))
        payer = spec.payers[idx]
        per_payer_seq[idx] = per_payer_seq.get(idx, 0) + 1
        name = f"{payer.payer_id}_{day:%Y%m%d}_{per_payer_seq[idx]}.835"
        trace = f"{idx + 1}{day:%y%m%d}{n:05d}"
        body: list[str] = [writer.seg("LX", "1")]
        for entry in entries:
            body += writer.claim(entry.claim, entry.status, entry.lines, clp07=entry.clp07)
        claims_paid = sum((sum((l.paid for l in e.lines), ZERO) for e in entries), ZERO)
        plb: list[tuple[str, str, Decimal]] = []
        if rng.random() < spec.plb_rate:
            if rng.random() < 0.7:
                plb.append(("L6", entries[0].clp07, -money(rng.uniform(0.5, 25))))
            if claims_paid > 100 and rng.random() < 0.5:
                recoup = money(claims_paid * Decimal(str(round(rng.uniform(0.02, 0.15), 3))))
                plb.append(("WO", f"{idx + 1}{rng.randrange(10**9, 10**10)}", recoup))
        if claims_paid - sum((a for _, _, a in plb), ZERO) < 0:
            # a negative balance (a reversal bigger than its correction) is carried forward
            plb.append(("FB", trace, claims_paid - sum((a for _, _, a in plb), ZERO)))
        if plb:
            elements = ["PLB", spec.payee.npi, f"{day.year}1231"]
            for reason, ref, amount in plb:
                elements += [writer.c.join([reason, ref]), x12_amount(amount)]
                plb_rows.append(
                    {
                        "file_name": name,
                        "trace_number": trace,
                        "reason_code": reason,
                        "reference_id": ref,
                        "amount": amount,
                    }
                )
            body.append(writer.seg(*elements))
        total = claims_paid - sum((a for _, _, a in plb), ZERO)
        st = "0001"
        segments = writer.header(payer, spec.payee, idx, st, total, trace, day) + body
        segments.append(writer.seg("SE", str(len(segments) + 1), st))
        control = control_base + n
        sender = payer.payer_id
        gs = writer.seg(
            "GS",
            "HP",
            sender,
            spec.payee.tin,
            f"{day - timedelta(days=2):%Y%m%d}",
            "1200",
            str(control),
            "X",
            "005010X221A1",
        )
        text = writer.join(
            [
                writer.isa(sender, spec.payee.tin, day - timedelta(days=2), control),
                gs,
                *segments,
                writer.seg("GE", "1", str(control)),
                writer.seg("IEA", "1", f"{control:09d}"),
            ]
        )
        path = out_dir / name
        path.write_bytes(text.encode("ascii"))
        files.append(path)
        lines_written = 0
        for entry in entries:
            claim = entry.claim
            for line in entry.lines:
                lines_written += 1
                truth_rows.append(
                    {
                        "file_name": name,
                        "payer_id": payer.payer_id,
                        "payer_kind": payer.kind,
                        "trace_number": trace,
                        "payment_date": day,
                        "patient_control_number": claim.pcn,
                        "payer_claim_number": entry.clp07,
                        "claim_status": entry.status,
                        "place_of_service": claim.pos,
                        "facility": claim.facility,
                        "line_control_number": line.lcn,
                        "procedure_code": line.code,
                        "modifiers": list(line.modifiers),
                        "pricing_modifier": line.pricing_modifier,
                        "units": line.units,
                        "service_date": claim.service_date,
                        "billed": line.billed,
                        "contract_allowed": line.contract,
                        "actual_allowed": line.allowed,
                        "allowed_written": line.write_allowed,
                        "paid": line.paid,
                        "patient_responsibility": line.patient_share,
                        "sequestration": line.sequestration,
                        "injected": line.injected,
                        "carc": line.carc,
                        "underpaid_by": line.underpaid_by if line.injected == "underpaid" else ZERO,
                        "mppr_rank": line.mppr_rank,
                    }
                )
        payment_rows.append(
            {
                "file_name": name,
                "payer_id": payer.payer_id,
                "trace_number": trace,
                "payment_date": day,
                "total_paid": total,
                "claims": len(entries),
                "lines": lines_written,
            }
        )
    truth = pl.DataFrame(truth_rows, schema=_TRUTH_SCHEMA)
    pay_frame = pl.DataFrame(
        payment_rows,
        schema={
            "file_name": pl.String,
            "payer_id": pl.String,
            "trace_number": pl.String,
            "payment_date": pl.Date,
            "total_paid": MONEY,
            "claims": pl.Int64,
            "lines": pl.Int64,
        },
    )
    plb_frame = pl.DataFrame(
        plb_rows,
        schema={
            "file_name": pl.String,
            "trace_number": pl.String,
            "reason_code": pl.String,
            "reference_id": pl.String,
            "amount": MONEY,
        },
    )
    return SynthResult(files, truth, pay_frame, plb_frame)


_TRUTH_SCHEMA = {
    "file_name": pl.String,
    "payer_id": pl.String,
    "payer_kind": pl.String,
    "trace_number": pl.String,
    "payment_date": pl.Date,
    "patient_control_number": pl.String,
    "payer_claim_number": pl.String,
    "claim_status": pl.String,
    "place_of_service": pl.String,
    "facility": pl.Boolean,
    "line_control_number": pl.String,
    "procedure_code": pl.String,
    "modifiers": pl.List(pl.String),
    "pricing_modifier": pl.String,
    "units": pl.Int64,
    "service_date": pl.Date,
    "billed": MONEY,
    "contract_allowed": MONEY,
    "actual_allowed": MONEY,
    "allowed_written": pl.Boolean,
    "paid": MONEY,
    "patient_responsibility": MONEY,
    "sequestration": MONEY,
    "injected": pl.String,
    "carc": pl.String,
    "underpaid_by": MONEY,
    "mppr_rank": pl.Int64,
}


# --------------------------------------------------------------------------- big files

MARK = "\x00"


def _claim_pool(
    seed: int, size: int, writer: _Writer, first_service: date = date(2025, 1, 6), service_days: int = 60
) -> list[list[tuple[list[str], int, int, int]]]:
    """Pre-rendered claims per payer: (pieces to join with a fresh id, paid cents, segments, lines),
    their dates of service spread over ``service_days`` days from ``first_service``."""
    spec = SynthSpec(
        seed=seed,
        max_lines_per_claim=8,
        facility_rate=0.1,
        reversal_rate=0.0,
        secondary_rate=0.02,
        plb_rate=0.0,
        missing_allowed_rate=0.1,
    )
    gen = _Generator(spec)
    pools: list[list[tuple[list[str], int, int, int]]] = [[] for _ in spec.payers]
    made = 0
    while made < size:
        claim = gen.claim(first_service + timedelta(days=made % service_days))
        if claim is None:
            continue
        made += 1
        segments = writer.claim(
            claim, claim.status, claim.lines, pcn="P" + MARK, clp07=str(claim.payer_index + 1) + MARK, lcn_base=MARK
        )
        text = writer.join(segments)
        pools[claim.payer_index].append((text.split(MARK), int(claim.paid * 100), len(segments), len(claim.lines)))
    return pools


def write_big(
    path: Path,
    n_lines: int,
    seed: int = 0,
    *,
    single_st: bool = False,
    lines_per_transaction: int = 2000,
    delimiters: tuple[str, str, str, str] = ("*", ":", "~", ""),
    payment_dates: Sequence[date] | None = None,
    first_claim: int = 0,
    first_service: date = date(2025, 1, 6),
    service_days: int = 60,
) -> Path:
    """One interchange of `n_lines` service lines (up to 7 more; ~145 bytes a line), many ST/SE payments.

    `single_st=True` puts every claim in one ST/SE (for parsers that read one transaction only).
    Payments (BPR16) are dated `payment_dates` in turn, one date per round of the five payers
    (default: 52 Mondays from 2025-02-03); claims are numbered from `first_claim + 1` (give the
    files of one warehouse disjoint ranges, and seeds that differ modulo 100: the trace numbers
    TRN02 come from the seed); dates of service run over `service_days` days from `first_service`.
    Claims are drawn from a pool of a few thousand pre-rendered claims and stamped with unique
    patient control, payer claim and line control numbers, so the file balances like the small
    ones (line, claim and transaction rules) and is written in seconds. Segments follow each
    other without line breaks by default, as most payers send them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _Writer(delimiters)
    rng = random.Random(seed)
    pools = _claim_pool(seed, min(4000, max(400, n_lines // 8)), writer, first_service, service_days)
    payers = default_payers()
    payee = SynthPayee()
    control = 900000000 + seed % 1000
    dates = list(payment_dates) if payment_dates else [date(2025, 2, 3) + timedelta(days=7 * w) for w in range(52)]
    day0 = dates[0]
    chunks: list[str] = []
    gs = writer.seg("GS", "HP", "SYNTHBIG", payee.tin, f"{day0:%Y%m%d}", "1200", str(control), "X", "005010X221A1")
    chunks.append(writer.join([writer.isa("SYNTHBIG", payee.tin, day0, control), gs]))
    lines_done = 0
    claim_no = first_claim
    st_count = 0
    per_st = n_lines if single_st else lines_per_transaction
    while lines_done < n_lines:
        st_count += 1
        idx = (st_count - 1) % len(payers)
        payer, pool = payers[idx], pools[idx]
        st_lines = paid_cents = segs = 0
        body: list[str] = []
        want = min(per_st, n_lines - lines_done)
        while st_lines < want:
            picks = rng.choices(range(len(pool)), k=max(8, (want - st_lines) // 3))
            for pick in picks:
                pieces, cents, nseg, nlines = pool[pick]
                claim_no += 1
                body.append(f"{claim_no:07d}".join(pieces))
                paid_cents += cents
                segs += nseg
                st_lines += nlines
                if st_lines >= want:
                    break
        lines_done += st_lines
        day = dates[(st_count - 1) // len(payers) % len(dates)]
        interest = Decimal(rng.randint(50, 2500)) / 100 if st_count % 4 == 0 else None
        total = Decimal(paid_cents) / 100 + (interest or ZERO)
        st = f"{st_count:06d}"
        trace = f"{seed % 100:02d}{st_count:010d}"
        head = writer.header(payer, payee, idx, st, money(total), trace, day) + [writer.seg("LX", "1")]
        tail = []
        if interest is not None:
            tail.append(
                writer.seg("PLB", payee.npi, f"{day.year}1231", writer.c.join(["L6", trace]), x12_amount(-interest))
            )
        count = len(head) + segs + len(tail) + 1
        tail.append(writer.seg("SE", str(count), st))
        chunks.append(writer.join(head))
        chunks.append("".join(body))
        chunks.append(writer.join(tail))
    chunks.append(
        writer.join([writer.seg("GE", str(st_count), str(control)), writer.seg("IEA", "1", f"{control:09d}")])
    )
    with open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk.encode("ascii"))
    return path
