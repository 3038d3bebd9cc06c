"""The 835-to-warehouse mapping: every column of every ingest frame, declared once.

One :class:`Field` per column, in the column order of the frame that
:mod:`pipelines.ingest.tables` builds (``payment_key`` .. ``payee_tin`` for payments, ...).
Read a row as "segment ``CLP`` of loop 2100, element ``CLP04`` -> ``claims.paid``, money".
The frame builders take their select expressions, the error wording of their number checks
and their all-null fallbacks (when a file has no such segment) from these rows, and put their
frame's columns in this order; ``tests/test_ddl_models.py`` checks that the columns are the
pandera model's (and so the DDL's), apart from the ids the loader adds.

Fields:

- ``loop``: ``envelope`` (ISA/GS), ``header`` (ST, BPR, TRN, header REF/DTM), ``1000A`` (payer,
  N1*PR), ``1000B`` (payee, N1*PE), ``2000`` (LX), ``2100`` (claim), ``2110`` (service line),
  ``2100/2110`` (CAS at either level), ``summary`` (PLB).
- ``qualifier``: the segment and qualifier value that selects the segment (``NM1*QC``,
  ``DTM*232``, ``AMT*B6``, ``REF*6R``, ``N1*PR``); none when the segment has no qualifier.
- ``element``: ``CLP04``; a composite's component as ``SVC01-2``; a list of elements joined
  with ``+`` (``MOA03+MOA04+...``). For CAS and PLB the element of the first triplet / pair
  with ``repeat`` the step to the next one (CAS02, CAS05, ... CAS17).
- ``type``: ``string``, ``money`` (DECIMAL(14,2)), ``qty`` (DECIMAL(12,3)), ``rate``
  (DECIMAL(12,4)), ``date`` (CCYYMMDD), ``list`` (VARCHAR[]), ``ordinal`` (INTEGER, a position
  in the file: the keys, ``segment_number``, ``line_number``, triplet / pair index).
- ``take``: ``first`` (the first such segment of the payment / claim / line), ``list`` (all of
  them, kept as a list), ``each`` (one row per segment, or per CAS triplet / PLB pair).
- ``name``: how an error message names the element (``CLP04 claim payment``).
- ``rule``: set on derived columns, which the builders compute in code: the rule in one line.
- ``default``: the value of a number left empty (SVC05 units: 1).
- ``fallback``: the column whose value fills this one when its own element is absent (the payer's
  name from a header ``NM1*PR`` when the file has no ``N1*PR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import polars as pl

from pipelines.core.errors import SEGMENT_IDS
from pipelines.core.money import MONEY, QTY, RATE
from pipelines.ingest.segments import _date, _list_of, _number

DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "money": MONEY,
    "qty": QTY,
    "rate": RATE,
    "date": pl.Date(),
    "list": pl.List(pl.String),
    "ordinal": pl.Int32(),
}
FIRST_DAY = date(1, 1, 1)  # the first date Python can hold
LOOPS = ("envelope", "header", "1000A", "1000B", "2000", "2100", "2110", "2100/2110", "summary")
TAKES = ("first", "list", "each")
# The N1 party a header loop belongs to ("" = the header itself, before any N1).
PARTY = {"header": "", "1000A": "PR", "1000B": "PE"}


@dataclass(frozen=True)
class Field:
    """One warehouse column and where in an 835 it comes from."""

    table: str
    column: str
    type: str
    loop: str
    segment: str | None = None
    qualifier: str | None = None
    element: str | None = None
    take: str = "first"
    name: str = ""
    rule: str = ""
    repeat: int = 0
    default: int | None = None
    fallback: str = ""

    @property
    def derived(self) -> bool:
        return bool(self.rule)

    @property
    def code(self) -> str:
        """The qualifier value (``QC`` of ``NM1*QC``; "" when the segment has no qualifier)."""
        return self.qualifier.split("*", 1)[1] if self.qualifier else ""

    @property
    def dtype(self) -> pl.DataType:
        return DTYPES[self.type]

    def split_column(self, i: int = 0) -> str:
        """The column of the split segment holding the element (a composite: the whole composite),
        of the i-th triplet / pair when repeated: ``CLP04`` -> ``e04``, ``PLB03-1`` (i = 1) -> ``e05``."""
        assert self.element and self.segment and "+" not in self.element, self
        return f"e{int(self.element.split('-')[0][len(self.segment) :]) + i * self.repeat:02d}"

    def source(self, i: int = 0) -> str:
        """The column holding the value: :meth:`split_column`, or for a composite's component the
        column it is split into (its own name, see :func:`component`)."""
        return self.column if "-" in (self.element or "") else self.split_column(i)

    def label(self, i: int = 0) -> str:
        """The name used in error messages (of the i-th triplet / pair when repeated)."""
        if not i:
            return self.name
        assert self.element and self.segment, self
        elem = self.element.split("-")[0]
        num = int(elem[len(self.segment) :]) + i * self.repeat
        return self.name.replace(elem, f"{self.segment}{num:02d}", 1)


def _f(table, column, type_, loop, segment=None, qualifier=None, element=None, **kw) -> Field:
    return Field(table, column, type_, loop, segment, qualifier, element, **kw)


_P, _C, _S, _A, _B = "payments", "claims", "service_lines", "adjustments", "provider_adjustments"

FIELDS: tuple[Field, ...] = (
    # ---- payments: one row per ST/SE transaction
    _f(
        _P,
        "payment_key",
        "ordinal",
        "header",
        "ST",
        take="each",
        rule="ST ordinal in the file (1-based); the loader turns it into payment_id",
    ),
    _f(_P, "segment_number", "ordinal", "header", "ST", rule="position of the ST segment in the file (ISA = 1)"),
    _f(_P, "transaction_control", "string", "header", "ST", None, "ST02"),
    _f(
        _P,
        "interchange_control",
        "string",
        "envelope",
        "ISA",
        None,
        "ISA13",
        rule="ISA13 of the interchange enclosing the ST (pipelines.ingest.envelope)",
    ),
    _f(
        _P,
        "group_control",
        "string",
        "envelope",
        "GS",
        None,
        "GS06",
        rule="GS06 of the functional group enclosing the ST (pipelines.ingest.envelope)",
    ),
    _f(_P, "x12_version", "string", "envelope", "GS", None, "GS08", rule="GS08, else ST03"),
    _f(_P, "handling_code", "string", "header", "BPR", None, "BPR01"),
    _f(_P, "total_paid", "money", "header", "BPR", None, "BPR02", name="BPR02 total payment"),
    _f(_P, "credit_debit", "string", "header", "BPR", None, "BPR03"),
    _f(_P, "payment_method", "string", "header", "BPR", None, "BPR04"),
    _f(_P, "payment_format", "string", "header", "BPR", None, "BPR05"),
    _f(_P, "payment_date", "date", "header", "BPR", None, "BPR16"),
    _f(_P, "trace_type", "string", "header", "TRN", None, "TRN01"),
    _f(_P, "trace_number", "string", "header", "TRN", None, "TRN02"),
    _f(_P, "originating_company_id", "string", "header", "TRN", None, "TRN03"),
    _f(_P, "originating_company_supplemental", "string", "header", "TRN", None, "TRN04"),
    _f(_P, "receiver_id", "string", "header", "REF", "REF*EV", "REF02"),
    _f(_P, "payer_name", "string", "1000A", "N1", "N1*PR", "N102", fallback="payer_nm1_name"),
    _f(_P, "payer_id_qualifier", "string", "1000A", "N1", "N1*PR", "N103", fallback="payer_nm1_id_qualifier"),
    _f(_P, "payer_n1_id", "string", "1000A", "N1", "N1*PR", "N104", fallback="payer_nm1_id"),
    _f(_P, "payer_ref_2u", "string", "1000A", "REF", "REF*2U", "REF02"),
    _f(_P, "payer_address", "string", "1000A", "N3", None, "N301"),
    _f(_P, "payer_city", "string", "1000A", "N4", None, "N401"),
    _f(_P, "payer_state", "string", "1000A", "N4", None, "N402"),
    _f(_P, "payer_zip", "string", "1000A", "N4", None, "N403"),
    _f(_P, "payee_name", "string", "1000B", "N1", "N1*PE", "N102", fallback="payee_nm1_name"),
    _f(_P, "payee_id_qualifier", "string", "1000B", "N1", "N1*PE", "N103", fallback="payee_nm1_id_qualifier"),
    _f(_P, "payee_id", "string", "1000B", "N1", "N1*PE", "N104", fallback="payee_nm1_id"),
    _f(_P, "payee_address", "string", "1000B", "N3", None, "N301"),
    _f(_P, "payee_city", "string", "1000B", "N4", None, "N401"),
    _f(_P, "payee_state", "string", "1000B", "N4", None, "N402"),
    _f(_P, "payee_zip", "string", "1000B", "N4", None, "N403"),
    _f(_P, "production_date", "date", "header", "DTM", "DTM*405", "DTM02"),
    # a header NM1*PR / NM1*PE (not in the 835 guide, but sent by some payers instead of or beside N1)
    _f(_P, "payer_nm1_name", "string", "1000A", "NM1", "NM1*PR", "NM103"),
    _f(_P, "payer_nm1_id_qualifier", "string", "1000A", "NM1", "NM1*PR", "NM108"),
    _f(_P, "payer_nm1_id", "string", "1000A", "NM1", "NM1*PR", "NM109"),
    _f(_P, "payee_nm1_name", "string", "1000B", "NM1", "NM1*PE", "NM103"),
    _f(_P, "payee_nm1_id_qualifier", "string", "1000B", "NM1", "NM1*PE", "NM108"),
    _f(_P, "payee_nm1_id", "string", "1000B", "NM1", "NM1*PE", "NM109"),
    _f(
        _P,
        "payer_id",
        "string",
        "1000A",
        rule="REF*2U of loop 1000A, else payer_n1_id (N1*PR04, else NM1*PR09), else TRN03",
    ),
    _f(_P, "payee_npi", "string", "1000B", "N1", "N1*PE", "N104", rule="payee_id when payee_id_qualifier is XX"),
    _f(
        _P,
        "payee_tin",
        "string",
        "1000B",
        "N1",
        "N1*PE",
        "N104",
        rule="payee_id when payee_id_qualifier is FI, else REF*TJ02 of loop 1000B",
    ),
    # ---- claims: one row per CLP
    _f(
        _C,
        "claim_key",
        "ordinal",
        "2100",
        "CLP",
        take="each",
        rule="CLP ordinal in the file (1-based); the loader turns it into claim_id",
    ),
    _f(_C, "payment_key", "ordinal", "header", "ST", rule="ST ordinal of the enclosing transaction"),
    _f(_C, "segment_number", "ordinal", "2100", "CLP", rule="position of the CLP segment in the file"),
    _f(_C, "patient_control_number", "string", "2100", "CLP", None, "CLP01"),
    _f(_C, "status_code", "string", "2100", "CLP", None, "CLP02"),
    _f(_C, "charge", "money", "2100", "CLP", None, "CLP03", name="CLP03 claim charge"),
    _f(_C, "paid", "money", "2100", "CLP", None, "CLP04", name="CLP04 claim payment"),
    _f(_C, "patient_responsibility", "money", "2100", "CLP", None, "CLP05", name="CLP05 patient responsibility"),
    _f(_C, "filing_indicator", "string", "2100", "CLP", None, "CLP06"),
    _f(_C, "payer_claim_number", "string", "2100", "CLP", None, "CLP07"),
    _f(_C, "place_of_service", "string", "2100", "CLP", None, "CLP08"),
    _f(_C, "frequency_code", "string", "2100", "CLP", None, "CLP09"),
    _f(_C, "patient_status", "string", "2100", "CLP", None, "CLP10"),
    _f(_C, "drg_code", "string", "2100", "CLP", None, "CLP11"),
    _f(_C, "drg_weight", "rate", "2100", "CLP", None, "CLP12", name="CLP12 DRG weight"),
    _f(_C, "discharge_fraction", "rate", "2100", "CLP", None, "CLP13", name="CLP13 discharge fraction"),
    _f(_C, "yes_no_condition", "string", "2100", "CLP", None, "CLP14"),
    _f(
        _C,
        "lx_number",
        "string",
        "2000",
        "LX",
        None,
        "LX01",
        rule="LX01 of the header number loop enclosing the claim, in the same transaction",
    ),
    _f(_C, "patient_last_name", "string", "2100", "NM1", "NM1*QC", "NM103"),
    _f(_C, "patient_first_name", "string", "2100", "NM1", "NM1*QC", "NM104"),
    _f(_C, "patient_middle_name", "string", "2100", "NM1", "NM1*QC", "NM105"),
    _f(_C, "patient_id_qualifier", "string", "2100", "NM1", "NM1*QC", "NM108"),
    _f(_C, "patient_member_id", "string", "2100", "NM1", "NM1*QC", "NM109"),
    _f(_C, "insured_last_name", "string", "2100", "NM1", "NM1*IL", "NM103"),
    _f(_C, "insured_first_name", "string", "2100", "NM1", "NM1*IL", "NM104"),
    _f(_C, "insured_member_id", "string", "2100", "NM1", "NM1*IL", "NM109"),
    _f(_C, "corrected_last_name", "string", "2100", "NM1", "NM1*74", "NM103"),
    _f(_C, "corrected_first_name", "string", "2100", "NM1", "NM1*74", "NM104"),
    _f(_C, "corrected_member_id", "string", "2100", "NM1", "NM1*74", "NM109"),
    _f(_C, "rendering_provider_name", "string", "2100", "NM1", "NM1*82", "NM103"),
    _f(_C, "rendering_provider_id", "string", "2100", "NM1", "NM1*82", "NM109"),
    _f(_C, "rendering_provider_qualifier", "string", "2100", "NM1", "NM1*82", "NM108"),
    _f(_C, "crossover_carrier_name", "string", "2100", "NM1", "NM1*TT", "NM103"),
    _f(_C, "crossover_carrier_id", "string", "2100", "NM1", "NM1*TT", "NM109"),
    _f(_C, "mia_remarks", "list", "2100", "MIA", None, "MIA05+MIA20+MIA21+MIA22+MIA23"),
    _f(_C, "moa_remarks", "list", "2100", "MOA", None, "MOA03+MOA04+MOA05+MOA06+MOA07"),
    _f(_C, "moa_reimbursement_rate", "rate", "2100", "MOA", None, "MOA01", name="MOA01 reimbursement rate"),
    _f(_C, "moa_payable_amount", "money", "2100", "MOA", None, "MOA02", name="MOA02 HCPCS payable amount"),
    _f(_C, "statement_from", "date", "2100", "DTM", "DTM*232", "DTM02"),
    _f(_C, "statement_to", "date", "2100", "DTM", "DTM*233", "DTM02"),
    _f(_C, "received_date", "date", "2100", "DTM", "DTM*050", "DTM02"),
    _f(_C, "coverage_amount", "money", "2100", "AMT", "AMT*AU", "AMT02", name="claim AMT02 amount"),
    _f(_C, "interest_amount", "money", "2100", "AMT", "AMT*I", "AMT02", name="claim AMT02 amount"),
    _f(
        _C,
        "other_amounts",
        "list",
        "2100",
        "AMT",
        None,
        "AMT01+AMT02",
        take="list",
        name="claim AMT02 amount",
        rule="every claim AMT other than AU and I, as 'QUAL=amount'",
    ),
    _f(
        _C,
        "quantities",
        "list",
        "2100",
        "QTY",
        None,
        "QTY01+QTY02",
        take="list",
        name="claim QTY02 quantity",
        rule="every claim QTY as 'QUAL=quantity' (QTY02 checked as a quantity)",
    ),
    _f(_C, "refs", "list", "2100", "REF", None, "REF01+REF02", take="list", rule="every claim REF as 'QUAL:value'"),
    _f(_C, "original_reference", "string", "2100", "REF", "REF*F8", "REF02"),
    # ---- service_lines: one row per SVC
    _f(
        _S,
        "line_key",
        "ordinal",
        "2110",
        "SVC",
        take="each",
        rule="SVC ordinal in the file (1-based); the loader turns it into line_id",
    ),
    _f(_S, "claim_key", "ordinal", "2100", "CLP", rule="CLP ordinal of the enclosing claim"),
    _f(_S, "payment_key", "ordinal", "header", "ST", rule="ST ordinal of the enclosing transaction"),
    _f(_S, "segment_number", "ordinal", "2110", "SVC", rule="position of the SVC segment in the file"),
    _f(_S, "qualifier", "string", "2110", "SVC", None, "SVC01-1"),
    _f(_S, "procedure_code", "string", "2110", "SVC", None, "SVC01-2"),
    _f(_S, "modifier_1", "string", "2110", "SVC", None, "SVC01-3"),
    _f(_S, "modifier_2", "string", "2110", "SVC", None, "SVC01-4"),
    _f(_S, "modifier_3", "string", "2110", "SVC", None, "SVC01-5"),
    _f(_S, "modifier_4", "string", "2110", "SVC", None, "SVC01-6"),
    _f(_S, "description", "string", "2110", "SVC", None, "SVC01-7"),
    _f(_S, "charge", "money", "2110", "SVC", None, "SVC02", name="SVC02 line charge"),
    _f(_S, "paid", "money", "2110", "SVC", None, "SVC03", name="SVC03 line payment"),
    _f(_S, "revenue_code", "string", "2110", "SVC", None, "SVC04"),
    _f(_S, "units", "qty", "2110", "SVC", None, "SVC05", name="SVC05 units", default=1),
    _f(
        _S,
        "original_composite",
        "string",
        "2110",
        "SVC",
        None,
        "SVC06",
        rule="SVC06 as sent, its components joined with ':'",
    ),
    _f(_S, "original_qualifier", "string", "2110", "SVC", None, "SVC06-1"),
    _f(_S, "original_procedure_code", "string", "2110", "SVC", None, "SVC06-2"),
    _f(_S, "original_units", "qty", "2110", "SVC", None, "SVC07", name="SVC07 original units"),
    _f(
        _S,
        "modifiers",
        "list",
        "2110",
        "SVC",
        None,
        "SVC01-3+SVC01-4+SVC01-5+SVC01-6",
        take="list",
        rule="SVC01-3..6 in order, blanks dropped; NULL when none",
    ),
    _f(
        _S,
        "original_modifiers",
        "list",
        "2110",
        "SVC",
        None,
        "SVC06-3+SVC06-4+SVC06-5+SVC06-6",
        take="list",
        rule="SVC06-3..6 in order, blanks dropped; NULL when none",
    ),
    _f(_S, "line_number", "ordinal", "2110", "SVC", rule="1-based ordinal of the SVC within its claim"),
    _f(_S, "allowed", "money", "2110", "AMT", "AMT*B6", "AMT02", name="line AMT02 amount"),
    _f(
        _S,
        "other_amounts",
        "list",
        "2110",
        "AMT",
        None,
        "AMT01+AMT02",
        take="list",
        name="line AMT02 amount",
        rule="every line AMT other than the first B6, as 'QUAL=amount'",
    ),
    _f(_S, "line_control_number", "string", "2110", "REF", "REF*6R", "REF02"),
    _f(
        _S,
        "refs",
        "list",
        "2110",
        "REF",
        None,
        "REF01+REF02",
        take="list",
        rule="every line REF other than the first 6R, as 'QUAL:value'",
    ),
    _f(_S, "remark_codes", "list", "2110", "LQ", "LQ*HE", "LQ02", take="list"),
    _f(_S, "ncpdp_reject_codes", "list", "2110", "LQ", "LQ*RX", "LQ02", take="list"),
    _f(
        _S,
        "service_date",
        "date",
        "2110",
        "DTM",
        "DTM*472",
        "DTM02",
        rule="DTM*472, else DTM*150 of the line, else the claim's statement_from (DTM*232)",
    ),
    _f(
        _S,
        "service_date_end",
        "date",
        "2110",
        "DTM",
        "DTM*151",
        "DTM02",
        rule="DTM*151, else DTM*472, else DTM*150, else the claim's statement_to, else statement_from",
    ),
    _f(
        _S, "service_date_source", "string", "2110", "DTM", rule="'472', '150' or 'claim': where service_date came from"
    ),
    # ---- adjustments: one row per CAS triplet (CAS02-04, CAS05-07, ... CAS17-19)
    _f(_A, "payment_key", "ordinal", "header", "ST", rule="ST ordinal of the enclosing transaction"),
    _f(_A, "claim_key", "ordinal", "2100", "CLP", rule="CLP ordinal of the enclosing claim"),
    _f(_A, "line_key", "ordinal", "2110", "SVC", rule="SVC ordinal of the enclosing line; NULL for a claim-level CAS"),
    _f(_A, "segment_number", "ordinal", "2100/2110", "CAS", rule="position of the CAS segment in the file"),
    _f(_A, "triplet_index", "ordinal", "2100/2110", "CAS", take="each", rule="1..6: the triplet's place in its CAS"),
    _f(_A, "group_code", "string", "2100/2110", "CAS", None, "CAS01", take="each"),
    _f(_A, "reason_code", "string", "2100/2110", "CAS", None, "CAS02", take="each", repeat=3),
    _f(_A, "amount", "money", "2100/2110", "CAS", None, "CAS03", take="each", repeat=3, name="CAS03 adjustment amount"),
    _f(
        _A,
        "quantity",
        "qty",
        "2100/2110",
        "CAS",
        None,
        "CAS04",
        take="each",
        repeat=3,
        name="CAS04 adjustment quantity",
    ),
    # ---- provider_adjustments: one row per PLB pair (PLB03-04, PLB05-06, ... PLB13-14)
    _f(_B, "payment_key", "ordinal", "header", "ST", rule="ST ordinal of the enclosing transaction"),
    _f(_B, "segment_number", "ordinal", "summary", "PLB", rule="position of the PLB segment in the file"),
    _f(_B, "pair_index", "ordinal", "summary", "PLB", take="each", rule="1..6: the pair's place in its PLB"),
    _f(_B, "provider_id", "string", "summary", "PLB", None, "PLB01", take="each"),
    _f(_B, "fiscal_period_date", "date", "summary", "PLB", None, "PLB02", take="each"),
    _f(_B, "reason_code", "string", "summary", "PLB", None, "PLB03-1", take="each", repeat=2),
    _f(_B, "reference_id", "string", "summary", "PLB", None, "PLB03-2", take="each", repeat=2),
    _f(_B, "amount", "money", "summary", "PLB", None, "PLB04", take="each", repeat=2, name="PLB04 adjustment amount"),
)

TABLES = (_P, _C, _S, _A, _B)
# Frame columns that are not warehouse columns: ordinal keys the loader replaces with ids.
KEYS = ("payment_key", "claim_key", "line_key")


@cache
def fields(table: str, segment: str | None = None, *, derived: bool | None = None) -> tuple[Field, ...]:
    """The rows of ``table`` (of one ``segment``; only derived or only direct ones), in frame order."""
    return tuple(
        f
        for f in FIELDS
        if f.table == table and (segment is None or f.segment == segment) and (derived is None or f.derived == derived)
    )


def field(table: str, column: str) -> Field:
    return next(f for f in FIELDS if f.table == table and f.column == column)


@cache
def columns(table: str) -> tuple[str, ...]:
    """The frame's columns in order."""
    return tuple(f.column for f in FIELDS if f.table == table)


@cache
def component(table: str, element: str, n: int) -> tuple[str, ...]:
    """The ``n`` component columns of composite ``element`` (``SVC01``): a mapped component is
    named as its column, any other as ``_svc06_3`` (kept only while a list is built from it)."""
    named = {f.element: f.column for f in FIELDS if f.table == table and f.element and "+" not in f.element}
    return tuple(named.get(f"{element}-{i}", f"_{element.lower()}_{i}") for i in range(1, n + 1))


def sources(f: Field) -> list[str]:
    """The split-frame columns of a list field's elements (``MOA03+...`` -> e03, ...; composite
    components -> their component columns)."""
    assert f.element and f.segment, f
    out = []
    for el in f.element.split("+"):
        if "-" in el:
            base, i = el.split("-")
            out.append(component(f.table, base, int(i))[int(i) - 1])
        else:
            out.append(f"e{int(el[len(f.segment) :]):02d}")
    return out


# ----------------------------------------------------------------------------- rows -> expressions


def expr(f: Field, df: pl.DataFrame | None, path, i: int = 0) -> pl.Expr:
    """The polars expression of a direct field over ``df`` (the segment split into e01..):
    numbers checked exact for their type (an error names ``f.label(i)``), dates parsed."""
    if f.type == "list":
        e = _list_of(sources(f))
    elif f.type in ("money", "qty", "rate"):
        assert df is not None, f"{f.column}: a number is checked over its segment's frame"
        e = _number(df, f.source(i), f.dtype, path, f.label(i))
        if f.default is not None:
            e = e.fill_null(pl.lit(f.default, f.dtype))
    elif f.type == "date":
        e = calendar_date(f.source(i))
    else:
        e = pl.col(f.source(i))
    return e.alias(f.column)


def exprs(rows, df: pl.DataFrame | None, path, i: int = 0) -> list[pl.Expr]:
    """:func:`expr` of each row (``df`` may be None when no row is a number)."""
    return [expr(f, df, path, i) for f in rows]


def nulls(rows) -> list[pl.Expr]:
    """All-null columns for ``rows`` (a file without their segment), typed as the mapping says."""
    return [pl.lit(None, f.dtype).alias(f.column) for f in rows]


# ----------------------------------------------------------------------------- file values in messages


def shown_expr(value: pl.Expr, codes=()) -> pl.Expr:
    """:func:`pipelines.core.errors.shown` over a whole column: a segment id or one of ``codes`` is
    quoted, any other text (a name or member id where a code or date was expected: PHI) is given by
    its length and kind only."""
    kind = (
        pl.when(value.str.contains(r"^[0-9]+$"))
        .then(pl.lit("digits"))
        .when(value.str.contains(r"^[A-Za-z]+$"))
        .then(pl.lit("letters"))
        .when(value.str.contains(r"^[A-Za-z0-9]+$"))
        .then(pl.lit("letters and digits"))
        .otherwise(pl.lit("mixed text"))
    )
    return (
        pl.when(value.is_null())
        .then(pl.lit("nothing"))
        .when(value == "")
        .then(pl.lit("an empty element"))
        .when(value.is_in(sorted(SEGMENT_IDS | set(codes))))
        .then(pl.concat_str(pl.lit("'"), value, pl.lit("'")))
        .otherwise(
            pl.concat_str(
                pl.lit("a "), value.str.len_chars().cast(pl.String), pl.lit("-character value ("), kind, pl.lit(")")
            )
        )
    )


def no_year_zero(parsed: pl.Expr) -> pl.Expr:
    """A parsed date, NULL for year 0 (``00000101`` parses, DuckDB stores it, Python cannot read it
    back): a date comparison, cheap beside the parse."""
    return pl.when(parsed >= pl.lit(FIRST_DAY)).then(parsed)


def calendar_date(col: str) -> pl.Expr:
    """CCYYMMDD element ``col`` as a date, NULL when it is no calendar date (20250231, 00000000,
    20251345, year 0). Parses twice in one expression: for the few rows of the header and PLB; the
    builders parse the many DTM rows once (:func:`no_year_zero` over a parsed column)."""
    return no_year_zero(_date(col))


# ----------------------------------------------------------------------------- the mapping as documentation


def markdown() -> str:
    """The mapping as the Markdown of docs/warehouse.md's generated section (a test keeps them equal):
    one line per (table, loop, segment qualifier) with its elements and columns, then the derived columns."""
    lines = ["| table | loop | segment | element -> column (type when not a string) |", "|---|---|---|---|"]
    groups: dict[tuple, list[str]] = {}
    for f in FIELDS:
        if f.derived:
            continue
        extra = [] if f.type == "string" else [f.type]
        if f.default is not None:
            extra.append(f"{f.default} when empty")
        if f.take == "list" and f.type != "list":
            extra.append("every one, as a list")
        if f.fallback:
            extra.append(f"else `{f.fallback}`")
        element = f"{f.element} (+{f.repeat}n)" if f.repeat else f.element
        groups.setdefault((f.table, f.loop, f.qualifier or f.segment), []).append(
            f"{element} -> `{f.column}`" + (f" ({', '.join(extra)})" if extra else "")
        )
    for (table, loop, seg), cols in groups.items():
        lines.append(f"| {table} | {loop} | {seg} | {', '.join(cols)} |")
    lines += ["", "Derived columns (computed in `pipelines/ingest/tables.py` by these rules):", ""]
    lines += [
        f"- `{f.table}.{f.column}` ({f.type}): {f.rule}"
        for f in FIELDS
        if f.derived and f.column not in KEYS and f.column != "segment_number"
    ]
    return "\n".join(lines) + "\n"
