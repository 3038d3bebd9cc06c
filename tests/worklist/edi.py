"""A small, valid 835 writer for worklist scenarios: one payment (BPR/TRN) of claims with their service lines.

Balanced as the loader checks (BPR02 = sum of CLP04 - PLB), envelopes counted. Amounts are Decimal strings.
The names, member ids and numbers are INVENTED for tests.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass
class Line:
    code: str
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None
    adj: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (group, reason, amount)
    control: str | None = None  # REF*6R
    units: int = 1
    dos: date = date(2025, 1, 6)


@dataclass
class Claim:
    pcn: str
    status: str  # CLP02: 1 primary, 4 denied, 22 reversal
    icn: str  # CLP07
    lines: list[Line]
    original_icn: str | None = None  # REF*F8
    interest: Decimal | None = None  # AMT*I

    @property
    def charge(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), Decimal("0"))

    @property
    def paid(self) -> Decimal:
        return sum((ln.paid for ln in self.lines), Decimal("0")) + (self.interest or 0)


def write_835(
    path: Path,
    claims: list[Claim],
    *,
    paid_on: date,
    trace: str,
    payer_id: str = "ACME1",
    payer_name: str = "ACME HEALTH",
    plb: list[tuple[str, str, Decimal]] = (),
) -> Path:
    """One 835 file; ``plb``: (reason, reference, amount) PLB pairs (amount positive reduces the payment)."""
    total = sum((c.paid for c in claims), Decimal("0")) - sum((a for _, _, a in plb), Decimal("0"))
    d = paid_on.strftime("%Y%m%d")
    seg = [
        "ST*835*0001",
        f"BPR*I*{total:.2f}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{d}",
        f"TRN*1*{trace}*1512345678",
        f"DTM*405*{d}",
        f"N1*PR*{payer_name}",
        "N3*1 PAYER WAY",
        "N4*HARTFORD*CT*06101",
        f"REF*2U*{payer_id}",
        "N1*PE*MIDTOWN FAMILY MEDICINE*XX*1234567893",
        "N3*350 FIFTH AVENUE",
        "N4*NEW YORK*NY*100011234",
        "REF*TJ*123456789",
        "LX*1",
    ]
    for c in claims:
        pr = sum((a for ln in c.lines for g, _, a in ln.adj if g == "PR"), Decimal("0"))
        seg.append(f"CLP*{c.pcn}*{c.status}*{c.charge:.2f}*{c.paid:.2f}*{pr:.2f}*12*{c.icn}*11*1")
        seg.append("NM1*QC*1*DOE*JANE****MI*MEM001")
        if c.original_icn:
            seg.append(f"REF*F8*{c.original_icn}")
        if c.interest is not None:
            seg.append(f"AMT*I*{c.interest:.2f}")
        for ln in c.lines:
            seg.append(f"SVC*HC:{ln.code}*{ln.charge:.2f}*{ln.paid:.2f}**{ln.units}")
            seg.append(f"DTM*472*{ln.dos.strftime('%Y%m%d')}")
            for g, r, a in ln.adj:
                seg.append(f"CAS*{g}*{r}*{a:.2f}")
            if ln.control:
                seg.append(f"REF*6R*{ln.control}")
            if ln.allowed is not None:
                seg.append(f"AMT*B6*{ln.allowed:.2f}")
    for reason, ref, amount in plb:
        seg.append(f"PLB*1234567893*{paid_on.year}1231*{reason}:{ref}*{amount:.2f}")
    seg.append(f"SE*{len(seg) + 1}*0001")
    body = "~".join(seg)
    text = (
        "ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*PROVRECEIVER   *"
        f"{paid_on.strftime('%y%m%d')}*1200*^*00501*{zlib.crc32(trace.encode()) % 10**9:09d}*0*P*:~"
        f"GS*HP*PAYERSENDER*PROVRECEIVER*{d}*1200*1*X*005010X221A1~{body}~GE*1*1~"
        f"IEA*1*{zlib.crc32(trace.encode()) % 10**9:09d}~"
    )
    path.write_text(text, encoding="ascii")
    return path
