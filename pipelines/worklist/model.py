"""The worklist tables (pipelines/core/ddl/worklist.sql) as pandera models: every column with its type and
nullability (strict), and the values each may take. tests/test_ddl_models.py checks them against the DDL."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe

from pipelines.core.money import MONEY_PRECISION, MONEY_SCALE

PAYMENT_STATUSES = ("underpaid", "denied", "recovered", "partially_recovered", "retracted", "written_off")
LINE_CATEGORIES = ("underpaid", "denied")
N = {"nullable": True}


def _money(**kw):
    return pa.Field(dtype_kwargs={"precision": MONEY_PRECISION, "scale": MONEY_SCALE}, **kw)


class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False


class WorklistClaims(_Base):
    """One row per case: a claim family with money at stake."""

    case_id: pl.Int64 = pa.Field(unique=True)
    payer_id: pl.String
    payer_claim_number: pl.String = pa.Field(**N)
    patient_control_number: pl.String = pa.Field(**N)
    first_detected_month: pl.Date
    workflow_status: pl.String = pa.Field(str_matches=r"^[a-z][a-z0-9_-]{0,39}$")
    assignee: pl.String = pa.Field(**N)
    due_date: pl.Date = pa.Field(**N)
    appeal_deadline: pl.Date = pa.Field(**N)
    amount_at_stake: pe.Decimal = _money(ge=0)
    recovered_amount: pe.Decimal = _money()
    note: pl.String = pa.Field(**N)
    family_key: pl.String
    payer_name: pl.String = pa.Field(**N)
    detected_on: pl.Date = pa.Field(**N)
    denied_on: pl.Date = pa.Field(**N)
    last_adjustment_on: pl.Date = pa.Field(**N)
    deadline_rule: pl.String = pa.Field(**N)
    interest_amount: pe.Decimal = _money()
    open_lines: pl.Int32 = pa.Field(ge=0)
    version: pl.Int32 = pa.Field(ge=0)
    updated_at: pl.Datetime


class WorklistLines(_Base):
    """One row per flagged line of a case."""

    case_id: pl.Int64
    line_key: pl.String
    line_control_number: pl.String = pa.Field(**N)
    procedure_code: pl.String = pa.Field(**N)
    modifiers: pl.List(pl.String) = pa.Field(**N)
    service_date: pl.Date = pa.Field(**N)
    category: pl.String = pa.Field(isin=list(LINE_CATEGORIES))
    expected_allowed: pe.Decimal = _money(**N)
    original_allowed: pe.Decimal = _money(**N)
    original_paid: pe.Decimal = _money(**N)
    current_allowed: pe.Decimal = _money(**N)
    current_paid: pe.Decimal = _money(**N)
    recovered_amount: pe.Decimal = _money()
    payment_status: pl.String = pa.Field(isin=list(PAYMENT_STATUSES))
    recovered_on: pl.Date = pa.Field(**N)
    first_line_id: pl.Int64
    last_line_id: pl.Int64


class WorklistEvents(_Base):
    """Every change to a case or a line, automatic or a person's."""

    event_id: pl.Int64 = pa.Field(unique=True)
    case_id: pl.Int64
    line_key: pl.String = pa.Field(**N)
    event_at: pl.Datetime
    actor: pl.String
    kind: pl.String
    old_value: pl.String = pa.Field(**N)
    new_value: pl.String = pa.Field(**N)
    detail: pl.String = pa.Field(**N)
