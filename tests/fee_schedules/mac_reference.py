"""An independent, deliberately simple claim-level MAC calculator (shared notes: medicare-payment-policy.md).

The check on ``fee_schedules.claims.price_claims``: plain Python + Decimal, one claim at a time, reading the
raw CMS 2025 files itself (like handcalc.py). It imports nothing from fee_schedules or pipelines.

Columns by position (PPRRVU25_JAN.csv, 2025 layout): 0 HCPCS, 1 MOD, 3 STATUS, 5 WORK, 6 NF PE, 8 F PE,
10 MP, 13 PCTC, 14 GLOB DAYS, 15/16/17 PRE/INTRA/POST OP, 18 MULT PROC, 19 BILAT SURG, 20 ASST SURG,
21 CO-SURG, 22 TEAM SURG, 23 ENDO BASE, 24 CONV FACTOR, 28/29/30 OPPS NF PE / F PE / MP.
GPCI2025.csv: 0 MAC, 2 locality, 4/5/6 PW (1.0 floor) / PE / MP. ANES2025.csv: 0 contractor, 1 locality, 3 CF.
Base units: the CMS CY 2022 file (tab-separated CODE, units; header spans 3 rows).

Input: a list of line dicts (claim_key, line, code, modifiers (list or space-separated), units (None = 1),
minutes, charge (None = no lesser-of-charge), carrier, locality, facility, provider_type (None = physician)).
Lines with the same claim_key are one claim (one provider, one date). Output (``price``): one dict per input
line, in input order: claim_key, line, allowed (Decimal or None), reason (None when priced), full_amount,
steps (a short text of what happened).

The order is the note's §2: (1) line amount per unit with the 26/TC/53 row and the OPPS cap, (2) line
percentages (split care 54/55/56 or 78, 62, 80/81/82/AS, NPP, CQ/CO) and denials/by report, (3) bilateral,
(4) the multiple-procedure family, (5) lesser of charge, (6) status T, (7) anesthesia separately.
Every choice the note leaves open is marked ``CHOICE:`` where it is made.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
ONE = Decimal(1)
HALF = Decimal("0.5")

NPP_TYPES = ("NP", "PA", "CNS")
ASSISTANT_TYPES = ("PTA", "OTA")
BY_REPORT = ("52", "66", "73", "74")
SPLIT = ("54", "55", "56")
MEDICAL_DIRECTION = ("QK", "QX", "QY")
# CHOICE: the RVU file gives every anesthesia (status J) code GLOB DAYS XXX, so "add-on (ZZZ)
# anesthesia codes" cannot be read from it. The CPT anesthesia add-on codes are these three (01953
# with 01952; 01968/01969 with 01967); they are priced alone with their own minutes.
ANESTHESIA_ADDONS = ("01953", "01968", "01969")
NO_TIME_UNITS = ("01995", "01996")


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Rvu:
    code: str
    mod: str
    status: str
    work: Decimal
    nf_pe: Decimal
    f_pe: Decimal
    mp: Decimal
    pctc: str
    glob: str
    pre: Decimal
    intra: Decimal
    post: Decimal
    mult: str
    bilat: str
    asst: str
    co: str
    team: str
    endo_base: str
    cf: Decimal
    opps_nf_pe: Decimal
    opps_f_pe: Decimal
    opps_mp: Decimal


def _d(s: str) -> Decimal:
    s = s.strip()
    return Decimal(s) if s else Decimal(0)


@cache
def _rvus(path: Path) -> dict[tuple[str, str], Rvu]:
    with open(path, encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    out = {}
    for r in rows[10:]:
        if len(r) < 31 or not r[0] or not r[0][0].isalnum():
            continue
        out[(r[0], r[1])] = Rvu(
            r[0], r[1], r[3], _d(r[5]), _d(r[6]), _d(r[8]), _d(r[10]), r[13], r[14], _d(r[15]), _d(r[16]),
            _d(r[17]), r[18], r[19], r[20], r[21], r[22], r[23].strip(), _d(r[24]), _d(r[28]), _d(r[29]), _d(r[30]),
        )  # fmt: skip
    return out


@cache
def _gpcis(path: Path) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    with open(path, encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    return {(r[0], r[2]): (Decimal(r[4]), Decimal(r[5]), Decimal(r[6])) for r in rows[3:] if r and r[0].isdigit()}


@cache
def _anes_cfs(path: Path) -> dict[tuple[str, str], Decimal]:
    with open(path, encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    return {(r[0].strip(), r[1].strip()): Decimal(r[3].strip()) for r in rows[1:] if r and r[0].strip().isdigit()}


@cache
def _base_units(path: Path) -> dict[str, int]:
    out = {}
    with open(path, encoding="latin-1", newline="") as fh:
        for raw in fh:
            parts = raw.rstrip("\r\n").split("\t")
            if len(parts) >= 2 and parts[0].strip().isdigit() and parts[1].strip().isdigit():
                out[parts[0].strip()] = int(parts[1].strip())
    return out


@dataclass
class _Line:
    idx: int
    d: dict
    code: str
    mods: set[str]
    units: Decimal
    charge: Decimal | None
    line: int
    rv: Rvu | None = None
    fee: Decimal | None = None  # per unit, after the OPPS cap
    pct: Decimal = ONE  # product of the line percentages (step 2)
    reason: str | None = None
    steps: list[str] = field(default_factory=list)
    amounts: list[Decimal] = field(default_factory=list)  # per instance, after step 4
    full: Decimal | None = None
    allowed: Decimal | None = None
    pair: _Line | None = None  # the other line of an RT/LT pair (indicators 0/1/2)
    pair_first: bool = False
    anesthesia: bool = False

    def deny(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


@dataclass
class _Inst:
    """One ranked unit/instance: one line unit, a bilateral procedure, or (family 2) an endoscopy family."""

    parts: list[tuple[_Line, Decimal]]  # (line, bilateral share) the instance pays
    first_line: int
    unit: int = 0


class MacReference:
    def __init__(self, cms_2025: Path, base_units_file: Path):
        self.rvus = _rvus(cms_2025 / "PPRRVU25_JAN.csv")
        self.gpcis = _gpcis(cms_2025 / "GPCI2025.csv")
        self.anes = _anes_cfs(cms_2025 / "ANES2025.csv")
        self.base = _base_units(base_units_file)

    # ---- step 1 -----------------------------------------------------------------------------------
    def fee(self, code: str, mod: str, carrier: str, locality: str, facility: bool) -> Decimal | None:
        rv = self.rvus.get((code, mod))
        if rv is None:
            return None
        wg, pg, mg = self.gpcis[(carrier, locality)]
        pe = rv.f_pe if facility else rv.nf_pe
        amount = r2((rv.work * wg + pe * pg + rv.mp * mg) * rv.cf)
        opps_pe = rv.opps_f_pe if facility else rv.opps_nf_pe
        if opps_pe > 0 or rv.opps_mp > 0:
            amount = min(amount, r2((rv.work * wg + opps_pe * pg + rv.opps_mp * mg) * rv.cf))
        return amount

    def therapy_reduced(self, rv: Rvu, carrier: str, locality: str, facility: bool) -> Decimal:
        """S2/S3: round2([(W x wGPCI) + 0.5 x (PE x peGPCI) + (MP x mpGPCI)] x CF) (the published amount)."""
        wg, pg, mg = self.gpcis[(carrier, locality)]
        pe = rv.f_pe if facility else rv.nf_pe
        return r2((rv.work * wg + HALF * pe * pg + rv.mp * mg) * rv.cf)

    # ---- the claim --------------------------------------------------------------------------------
    def price(self, lines: list[dict]) -> list[dict]:
        parsed = [self._parse(i, d) for i, d in enumerate(lines)]
        claims: dict[str, list[_Line]] = {}
        for ln in parsed:
            claims.setdefault(str(ln.d["claim_key"]), []).append(ln)
        for claim in claims.values():
            self._claim(sorted(claim, key=lambda x: (x.line, x.idx)))
        return [
            {
                "claim_key": ln.d["claim_key"],
                "line": ln.line,
                "allowed": ln.allowed if ln.reason is None else None,
                "reason": ln.reason,
                "full_amount": ln.full if ln.reason is None else None,
                "steps": "; ".join(ln.steps),
            }
            for ln in parsed
        ]

    def _parse(self, i: int, d: dict) -> _Line:
        mods = d.get("modifiers") or []
        if isinstance(mods, str):
            mods = mods.split()
        units = d.get("units")
        charge = d.get("charge")
        return _Line(
            idx=i,
            d=d,
            code=str(d["code"]).strip().upper(),
            mods={m.strip().upper() for m in mods if m and m.strip()},
            units=ONE if units is None else Decimal(units),
            charge=None if charge is None else Decimal(charge),
            line=int(d["line"]),
        )

    def _claim(self, claim: list[_Line]) -> None:
        for ln in claim:
            self._line(ln)
        anes = [ln for ln in claim if ln.anesthesia and ln.reason is None]
        self._anesthesia(anes)
        pfs = [ln for ln in claim if not ln.anesthesia and ln.reason is None]
        self._bilateral_pairs(pfs)
        self._families(pfs)
        self._lesser_of_charge(pfs)
        self._status_t(claim)

    # ---- steps 1 and 2 per line -------------------------------------------------------------------
    def _line(self, ln: _Line) -> None:
        d, m = ln.d, ln.mods
        base = self.rvus.get((ln.code, ""))
        if base is None:
            ln.deny("code not in the 2025 RVU file")
            return
        if base.status == "J":
            ln.anesthesia = True
            return
        if base.status not in ("A", "R", "T"):
            ln.deny(f"status {base.status}: not paid on the fee schedule")
            return
        # CHOICE: 26 and TC on one line, or 26/TC on a code without those rows (PCTC not 1), are not priced.
        if "26" in m and "TC" in m:
            ln.deny("26 and TC together")
            return
        row = "26" if "26" in m else "TC" if "TC" in m else ""
        if row and (ln.code, row) not in self.rvus:
            ln.deny(f"no {row} row for this code (PCTC {base.pctc})")
            return
        if "53" in m and not row:
            if (ln.code, "53") in self.rvus:
                row = "53"
            else:
                ln.deny("by report: 53 without a 53 row (individual consideration)")
                return
        rv = self.rvus[(ln.code, row)]
        ln.rv = rv
        ln.fee = self.fee(ln.code, row, d["carrier"], d["locality"], bool(d["facility"]))
        ln.steps.append(f"fee {ln.code}{'-' + row if row else ''} {ln.fee}")
        # by report (CHOICE: checked before any percentage, in this order)
        for mod in BY_REPORT:
            if mod in m:
                ln.deny(f"by report: modifier {mod}")
                return
        pct = ONE
        split = [x for x in SPLIT if x in m]
        if split:
            # CHOICE: split care applies only to 010/090 codes with shares; 000 and other GLOB DAYS
            # (XXX, YYY, ZZZ, MMM) are not priced with 54/55/56. Several split modifiers add their shares.
            if rv.glob not in ("010", "090") or rv.pre + rv.intra + rv.post == 0:
                ln.deny(f"split care 54/55/56 does not apply (GLOB DAYS {rv.glob})")
                return
            share = Decimal(0)
            if "54" in m:
                share += rv.pre + rv.intra
            if "55" in m:
                share += rv.post
            if "56" in m:
                share += rv.pre
            pct *= share
            ln.steps.append(f"split care {'/'.join(split)} x {share}")
        elif "78" in m:
            # CHOICE: 78 = intra-op share on codes with shares; full on 000 (note Q10) and on every other
            # code without shares (XXX etc.). 78 together with 54/55/56 is ignored (the split share rules).
            if rv.glob in ("010", "090") and rv.intra > 0:
                pct *= rv.intra
                ln.steps.append(f"78 intra-op x {rv.intra}")
        if "62" in m:
            if rv.co in ("1", "2"):
                pct *= Decimal("0.625")
                ln.steps.append("co-surgeon 62 x 62.5%")
            elif rv.co == "0":
                ln.deny("co-surgery not permitted (CO-SURG 0)")
                return
            else:
                ln.deny(f"co-surgery concept does not apply (CO-SURG {rv.co})")
                return
        asst = [x for x in ("80", "81", "82", "AS") if x in m]
        if asst:
            if rv.asst in ("0", "2"):
                # CHOICE: AS together with 80/81/82 is AS alone (13.6%), never 16% x 13.6%.
                p = Decimal("0.136") if "AS" in m else Decimal("0.16")
                pct *= p
                ln.steps.append(f"assistant {'/'.join(asst)} x {p}")
            elif rv.asst == "1":
                ln.deny("assistant at surgery not payable (ASST SURG 1)")
                return
            else:
                ln.deny(f"assistant at surgery concept does not apply (ASST SURG {rv.asst})")
                return
        ptype = (d.get("provider_type") or "").upper()
        if ptype in NPP_TYPES and "AS" not in m:
            pct *= Decimal("0.85")
            ln.steps.append(f"NPP {ptype} x 85%")
        # CHOICE: CQ/CO 85% applies once when the modifier is on the line OR the provider type is PTA/OTA,
        # and stacks with NPP 85% (percentages multiply; an NPP billing CQ is not realistic).
        if "CQ" in m or "CO" in m or ptype in ASSISTANT_TYPES:
            pct *= Decimal("0.85")
            ln.steps.append("CQ/CO x 85%")
        ln.pct = pct
        if "50" in m and rv.bilat == "9":
            # CHOICE: -50 on a BILAT SURG 9 code (concept does not apply) is not priced.
            ln.deny("bilateral concept does not apply (BILAT SURG 9)")
            return
        # CHOICE: units must be whole numbers >= 1 for instance-based pricing.
        if ln.units != ln.units.to_integral_value() or ln.units < 1:
            ln.deny(f"units {ln.units} not a whole number >= 1")
            return

    # ---- step 3: which instances a line makes ------------------------------------------------------
    def _shares(self, ln: _Line) -> list[Decimal]:
        """The bilateral shares of a line's instances (one entry per ranked instance)."""
        rv = ln.rv
        assert rv is not None
        n = int(ln.units)
        if ln.pair is not None:
            if ln.pair_first:
                return [ONE]
            return [{"1": HALF, "3": ONE}.get(rv.bilat, Decimal(0))]
        if "50" in ln.mods:
            if rv.mult == "4":
                # note Q11: -50 on an imaging code = two studies (the second reduced). CHOICE: units ignored.
                return [ONE, ONE]
            # CHOICE: units on a -50 line are ignored: one bilateral procedure.
            return [{"1": Decimal("1.5"), "3": Decimal(2)}.get(rv.bilat, ONE)]
        if n == 2 and rv.bilat in ("1", "2") and not (ln.mods & {"RT", "LT"}):
            # CHOICE: exactly 2 units (not 3+) of an indicator 1/2 code without -50/RT/LT = bilateral.
            return [Decimal("1.5") if rv.bilat == "1" else ONE]
        # CHOICE: every other unit is its own instance (ranked separately in its family).
        return [ONE] * n

    def _bilateral_pairs(self, pfs: list[_Line]) -> None:
        # CHOICE: RT and LT lines (units 1, no -50, not both RT and LT, same code and row modifier) pair
        # in line order: the lowest RT line with the lowest LT line, and so on. Indicator 9: no pairing.
        # Indicator 3 pairs change nothing (each side 100%, own charge): they stay two instances.
        groups: dict[tuple[str, str], tuple[list[_Line], list[_Line]]] = {}
        for ln in pfs:
            rv = ln.rv
            # CHOICE: only families 0/1/2/9 pair (not endoscopy members, imaging, therapy, 6, 7).
            if rv is None or "50" in ln.mods or ln.units != 1 or rv.bilat not in ("0", "1", "2"):
                continue
            if rv.mult not in ("0", "1", "2", "9", ""):
                continue
            rt, lt = "RT" in ln.mods, "LT" in ln.mods
            if rt == lt:
                continue
            g = groups.setdefault((ln.code, rv.mod), ([], []))
            g[0 if rt else 1].append(ln)
        for rts, lts in groups.values():
            for a, b in zip(rts, lts, strict=False):
                first, second = (a, b) if a.line < b.line else (b, a)
                first.pair, second.pair = second, first
                first.pair_first = True
                ind = first.rv.bilat  # type: ignore[union-attr]
                pct = {"1": "150%", "0": "100%", "2": "100%"}[ind]
                first.steps.append(f"bilateral RT/LT pair with line {second.line} (indicator {ind}, {pct}): 100%")
                second.steps.append(
                    f"bilateral RT/LT pair with line {first.line} (indicator {ind}, {pct}): "
                    f"{'50%' if ind == '1' else '0%'}"
                )

    # ---- step 4 -----------------------------------------------------------------------------------
    def _families(self, pfs: list[_Line]) -> None:
        for ln in pfs:
            ln.full = sum((r2(ln.fee * ln.pct * s) for s in self._shares(ln)), Decimal(0))  # type: ignore[operator]
        fam: dict[str, list[_Line]] = {}
        for ln in pfs:
            fam.setdefault(ln.rv.mult, []).append(ln)  # type: ignore[union-attr]
        for ln in fam.get("0", []) + fam.get("9", []) + fam.get("", []):
            ln.amounts = [r2(ln.fee * ln.pct * s) for s in self._shares(ln)]  # type: ignore[operator]
        self._surgery(fam.get("1", []) + fam.get("2", []), fam.get("3", []))
        self._tc_pc(fam.get("4", []), tc_cut=HALF, pc_cut=Decimal("0.05"), sessions=True)
        self._tc_pc(fam.get("6", []), tc_cut=Decimal("0.25"), pc_cut=None, sessions=False)
        self._tc_pc(fam.get("7", []), tc_cut=Decimal("0.20"), pc_cut=None, sessions=False)
        self._therapy(fam.get("5", []))

    def _surgery(self, mp2: list[_Line], mp3: list[_Line]) -> None:
        """Families 1/2 with the endoscopy families (3) each ranked as one procedure."""
        procs: list[tuple[Decimal, int, list[tuple[_Line, Decimal, Decimal]]]] = []
        # (ranking value, first line, [(line, unrounded instance amount before the rank %)...])

        def add_line_instances(ln: _Line, shares: list[Decimal]) -> None:
            for s in shares:
                v = ln.fee * ln.pct * s  # type: ignore[operator]
                procs.append((v, ln.line, [(ln, v, s)]))

        families: dict[str, list[_Line]] = {}
        for ln in mp3:
            families.setdefault(ln.rv.endo_base, []).append(ln)  # type: ignore[union-attr]
        bundled: set[int] = set()
        # CHOICE: the base is bundled whatever its row (45378-53 too) and units, when a member is priced.
        for ln in mp2:
            if ln.code in families:
                ln.amounts = [Decimal(0)]
                ln.full = Decimal(0)  # CHOICE: a bundled base's full_amount is its line amount anyway; kept 0
                ln.steps.append(f"base endoscopy bundled with its family member(s): $0 (units {ln.units})")
                bundled.add(ln.idx)
        pairs_done: set[int] = set()
        for ln in mp2:
            if ln.idx in bundled or ln.idx in pairs_done:
                continue
            if ln.pair is not None:
                other = ln.pair
                pairs_done.update({ln.idx, other.idx})
                parts = [(x, x.fee * x.pct * self._shares(x)[0], self._shares(x)[0]) for x in (ln, other)]  # type: ignore[operator]
                procs.append((sum(p[1] for p in parts), min(ln.line, other.line), parts))
                continue
            add_line_instances(ln, self._shares(ln))
        for base_code, members in families.items():
            base_fee = None
            inst = []  # (value, line, unit, ln, share)
            for ln in members:
                for u, s in enumerate(self._shares(ln)):
                    inst.append((ln.fee * ln.pct * s, ln.line, u, ln, s))  # type: ignore[operator]
            inst.sort(key=lambda t: (-t[0], t[1], t[2]))
            f0 = members[0]
            base_fee = self.fee(base_code, "", f0.d["carrier"], f0.d["locality"], bool(f0.d["facility"])) or Decimal(0)
            parts = []
            for k, (v, _line, _u, ln, s) in enumerate(inst):
                if k == 0:
                    parts.append((ln, v, s))
                else:
                    # CHOICE: the base amount is scaled by the member's own line percentages and share.
                    parts.append((ln, max(Decimal(0), (ln.fee - base_fee) * ln.pct * s), s))  # type: ignore[operator]
            procs.append((sum(p[1] for p in parts), min(m.line for m in members), parts))
        # CHOICE: ranking by the exact (unrounded) adjusted amount; ties: the lower line number first.
        procs.sort(key=lambda t: (-t[0], t[1]))
        for ln in mp2 + mp3:
            if ln.idx not in bundled:
                ln.amounts = []
        for rank, (_v, _first, parts) in enumerate(procs, start=1):
            for ln, v, _s in parts:
                if rank >= 6:
                    # CHOICE: one instance at rank 6+ makes its whole line not priced.
                    ln.deny("by report: multiple procedure rank 6 or later")
                    continue
                p = ONE if rank == 1 else HALF
                ln.amounts.append(r2(v * p))
                ln.steps.append(f"multiple procedure rank {rank}: {'100%' if rank == 1 else '50%'}")

    def _tc_pc(self, lines: list[_Line], tc_cut: Decimal, pc_cut: Decimal | None, sessions: bool) -> None:
        """Families 4 (imaging, by session), 6 and 7 (by day): TC and PC ranked separately."""
        groups: dict[object, list[tuple[_Line, int, Decimal, Decimal]]] = {}  # (line, unit, tc, pc)
        fam = lines[0].rv.mult if lines else ""  # type: ignore[union-attr]
        for ln in lines:
            rv = ln.rv
            assert rv is not None
            c, f = (ln.d["carrier"], ln.d["locality"]), bool(ln.d["facility"])
            if rv.mod == "TC" or rv.pctc == "3":
                tc, pc = ln.fee, Decimal(0)
            elif rv.mod == "26" or rv.pctc == "2":
                tc, pc = Decimal(0), ln.fee
            elif rv.pctc == "1":
                tc = self.fee(ln.code, "TC", *c, f)
                pc = self.fee(ln.code, "26", *c, f)
            else:  # PCTC 4 (global-only): note Q5
                tc, pc = None, None
            key = ("own", ln.idx) if sessions and ln.mods & {"59", "XE"} else "session"
            for u, _s in enumerate(self._shares(ln)):
                groups.setdefault(key, []).append((ln, u, tc, pc))  # type: ignore[arg-type]
        for items in groups.values():
            tcs = [it for it in items if it[2] is None or it[2] > 0]
            if any(it[2] is None for it in items) and len(tcs) > 1:
                for it in items:
                    if it[2] is None:
                        # note Q5: global-only (PCTC 4) codes in family 6 are not priced when grouped.
                        # CHOICE: "grouped" = another TC-bearing instance of the family on the claim/day.
                        it[0].deny(f"global-only code (PCTC 4) with other family {fam} services: TC portion unknown")
            items = [it for it in items if it[0].reason is None]
            cuts: dict[tuple[int, int], Decimal] = {}
            # CHOICE: ranking by the component x the line percentages; ties: lower line, then unit.
            for comp, rate in ((2, tc_cut), (3, pc_cut)):
                if rate is None:
                    continue
                ranked = sorted(
                    (it for it in items if it[comp] is not None and it[comp] > 0),
                    key=lambda it: (-(it[comp] * it[0].pct), it[0].line, it[1]),
                )
                for it in ranked[1:]:
                    cut = r2(it[comp] * it[0].pct * rate)
                    cuts[(it[0].idx, it[1])] = cuts.get((it[0].idx, it[1]), Decimal(0)) + cut
                    it[0].steps.append(f"{'TC' if comp == 2 else 'PC'} {it[comp]} not highest: -{cut}")
            # CHOICE: per unit, round(fee x line %) - round(TC x line % x cut) - round(PC x line % x cut): the
            # note's "cuts rounded per component" (72141-26: 75.10 - 3.76 = 71.34, not round(75.10 x 95%) = 71.35).
            for ln in {it[0].idx: it[0] for it in items}.values():
                ln.amounts = [
                    r2(ln.fee * ln.pct * s) - cuts.get((ln.idx, u), Decimal(0))  # type: ignore[operator]
                    for u, s in enumerate(self._shares(ln))
                ]

    def _therapy(self, lines: list[_Line]) -> None:
        inst = []
        for ln in lines:
            rv = ln.rv
            assert rv is not None
            pe = rv.f_pe if ln.d["facility"] else rv.nf_pe
            for u in range(int(ln.units)):
                inst.append((pe, ln.fee * ln.pct, ln.line, u, ln))  # type: ignore[operator]
        # CHOICE: ties on PE RVU: the higher full amount after the line percentages, then line, then unit.
        inst.sort(key=lambda t: (-t[0], -t[1], t[2], t[3]))
        for ln in lines:
            ln.amounts = []
        for k, (_pe, _full, _line, _u, ln) in enumerate(inst):
            if k == 0:
                ln.amounts.append(r2(ln.fee * ln.pct))  # type: ignore[operator]
                ln.steps.append("therapy: highest PE, full")
            else:
                # CHOICE: the line percentages (NPP / CQ) multiply the published (rounded) reduced amount.
                red = self.therapy_reduced(ln.rv, ln.d["carrier"], ln.d["locality"], bool(ln.d["facility"]))  # type: ignore[arg-type]
                ln.amounts.append(r2(red * ln.pct))
                ln.steps.append(f"therapy: 50% PE {red}")

    # ---- steps 5 and 6 ------------------------------------------------------------------------------
    def _lesser_of_charge(self, pfs: list[_Line]) -> None:
        for ln in pfs:
            if ln.reason is not None:
                continue
            ln.allowed = sum(ln.amounts, Decimal(0))
        for ln in pfs:
            if ln.reason is not None:
                continue
            other = ln.pair
            if other is not None and other.reason is None:
                if not ln.pair_first:
                    continue
                # the pair's charges together, allocated first to the lower line (note Q7).
                # CHOICE: a missing charge on either side means no cap for the pair.
                if ln.charge is None or other.charge is None:
                    continue
                total = min(ln.allowed + other.allowed, ln.charge + other.charge)  # type: ignore[operator]
                a = min(ln.allowed, total)  # type: ignore[type-var]
                if (a, total - a) != (ln.allowed, other.allowed):
                    ln.steps.append(f"pair charges {ln.charge + other.charge}: {a}")
                    other.steps.append(f"pair charges {ln.charge + other.charge}: {total - a}")
                ln.allowed, other.allowed = a, total - a
                continue
            if ln.charge is not None and ln.charge < ln.allowed:  # type: ignore[operator]
                ln.steps.append(f"lesser of charge {ln.charge}")
                ln.allowed = ln.charge

    def _status_t(self, claim: list[_Line]) -> None:
        # CHOICE: "another PFS service is paid" = another line, not status T, priced with allowed > 0
        # (anesthesia counts). Several T lines alone are all paid.
        other_paid = any(
            ln.reason is None and ln.allowed and ln.allowed > 0 and not (ln.rv is not None and ln.rv.status == "T")
            for ln in claim
        )
        for ln in claim:
            if ln.rv is not None and ln.rv.status == "T" and ln.reason is None and other_paid:
                ln.allowed = Decimal(0)
                ln.steps.append("status T: another PFS service paid, $0")

    # ---- step 7 -----------------------------------------------------------------------------------
    def _anesthesia(self, anes: list[_Line]) -> None:
        main = []
        for ln in anes:
            d = ln.d
            units = self.base.get(ln.code)
            if units is None:
                ln.deny("anesthesia base units unknown (not in the CY 2022 base-unit file)")
                continue
            cf = self.anes.get((d["carrier"], d["locality"]))
            if cf is None:
                ln.deny("no anesthesia CF for the locality")
                continue
            minutes = d.get("minutes")
            if "AD" not in ln.mods and ln.code not in NO_TIME_UNITS and minutes is None:
                # CHOICE: a timed anesthesia line without minutes is not priced (units are not time).
                ln.deny("anesthesia minutes missing")
                continue
            ln.fee = cf
            if ln.code not in ANESTHESIA_ADDONS:
                main.append(ln)
            # full_amount: the line alone with its own minutes
            ln.allowed = self._anes_amount(ln, units, Decimal(minutes or 0), cf)
            ln.full = ln.allowed
        if main:
            # several anesthesia codes: the highest base units (ties: lower line) with the total time.
            # CHOICE: the primary line's own modifiers (QK/QZ/AD...) set the percentage; the others pay $0.
            primary = sorted(main, key=lambda x: (-self.base[x.code], x.line))[0]
            # CHOICE: AD lines and 01995/01996 carry no time units, so their minutes are not added.
            timed = [x for x in main if "AD" not in x.mods and x.code not in NO_TIME_UNITS]
            total = sum((Decimal(x.d.get("minutes") or 0) for x in timed), Decimal(0))
            primary.allowed = self._anes_amount(primary, self.base[primary.code], total, primary.fee)  # type: ignore[arg-type]
            for x in main:
                if x is not primary:
                    x.allowed = Decimal(0)
                    x.steps.append(f"anesthesia: time and base paid on line {primary.line} (highest base units)")
            if len(main) > 1:
                primary.steps.append(f"anesthesia: total time {total} min of {len(main)} codes")
            # CHOICE: lesser of charge for the group = the sum of the group's charges (a missing charge:
            # no cap), on the primary line.
            charges = [x.charge for x in main]
            if all(c is not None for c in charges):
                cap = sum(charges, Decimal(0))  # type: ignore[arg-type]
                if cap < primary.allowed:  # type: ignore[operator]
                    primary.allowed = cap
                    primary.steps.append(f"lesser of charge {cap}")
        for ln in anes:
            if ln.reason is None and ln.code in ANESTHESIA_ADDONS and ln.charge is not None:
                if ln.charge < ln.allowed:  # type: ignore[operator]
                    ln.allowed = ln.charge

    def _anes_amount(self, ln: _Line, units: int, minutes: Decimal, cf: Decimal) -> Decimal:
        m = ln.mods
        if "AD" in m:
            # AD: 3 base units, plus one time unit when present at induction (modifier 23).
            base, time = Decimal(3), (ONE if "23" in m else Decimal(0))
        else:
            base = Decimal(units)
            time = Decimal(0) if ln.code in NO_TIME_UNITS else (minutes / 15).quantize(TENTH, ROUND_HALF_UP)
        pct = HALF if m & set(MEDICAL_DIRECTION) else ONE
        amount = r2((base + time) * cf * pct)
        ln.steps.append(f"anesthesia ({base} + {time}) x CF {cf} x {pct} = {amount}")
        return amount


# ---- for the tests: the same lines as price_claims' input frame ---------------------------------------
def claims_frame(lines: list[dict], year: int = 2025, service_date=None):
    """price_claims' input frame for reference-style line dicts (locality = carrier + locality)."""
    import datetime

    import polars as pl

    when = service_date or datetime.date(year, 3, 15)  # release A (January) in force, as PPRRVU25_JAN

    def dec(v, places):
        return None if v is None else Decimal(v).quantize(Decimal(1).scaleb(-places))

    mods = [d.get("modifiers") or [] for d in lines]
    return pl.DataFrame(
        {
            "row_id": list(range(len(lines))),
            "claim_key": [str(d["claim_key"]) for d in lines],
            "line": [int(d["line"]) for d in lines],
            "procedure_code": [d["code"] for d in lines],
            "modifiers": [m.split() if isinstance(m, str) else list(m) for m in mods],
            "units": [dec(d.get("units"), 3) for d in lines],
            "minutes": [dec(d.get("minutes"), 3) for d in lines],
            "charge": [dec(d.get("charge"), 2) for d in lines],
            "zip": [None] * len(lines),
            "locality": [d["carrier"] + d["locality"] for d in lines],
            "facility": [bool(d["facility"]) for d in lines],
            "provider_type": [d.get("provider_type") for d in lines],
            "year": [year] * len(lines),
            "service_date": [when] * len(lines),
        },
        schema={
            "row_id": pl.Int64,
            "claim_key": pl.String,
            "line": pl.Int64,
            "procedure_code": pl.String,
            "modifiers": pl.List(pl.String),
            "units": pl.Decimal(14, 3),
            "minutes": pl.Decimal(14, 3),
            "charge": pl.Decimal(14, 2),
            "zip": pl.String,
            "locality": pl.String,
            "facility": pl.Boolean,
            "provider_type": pl.String,
            "year": pl.Int32,
            "service_date": pl.Date,
        },
    )
