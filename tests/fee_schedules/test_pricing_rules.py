"""Pricing rules: statuses, localities from ZIPs, releases by date, missing files, national, QP, policy."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fee_schedules.importer import import_release
from fee_schedules.pricing import FACILITY_POS, is_facility_pos, medicare_payment, medicare_payment_expr, price_lines
from pipelines.core.errors import ReferenceDataMissing
from pipelines.core.warehouse import connect


def line(code, *, mods=(), when=date(2025, 3, 1), year=None, zip=None, locality="1320201", facility=False, **extra):
    base = {
        "procedure_code": code,
        "modifiers": list(mods),
        "service_date": when,
        "year": year,
        "zip": zip,
        "locality": locality,
        "facility": facility,
    }
    base.update(extra)
    return base


def price(con, rows, **kw):
    frame = pl.DataFrame(
        [{"row_id": i, **r} for i, r in enumerate(rows)],
        schema_overrides={
            "service_date": pl.Date,
            "year": pl.Int32,
            "zip": pl.String,
            "locality": pl.String,
            "modifiers": pl.List(pl.String),
        },
        infer_schema_length=None,
    )
    return price_lines(con, frame, **kw)


# ------------------------------------------------------------------ statuses


@pytest.mark.parametrize(
    "code,reason",
    [
        ("A0021", "status I: not valid for Medicare"),  # I
        ("00100", "status J: anesthesia"),  # J
        ("0633T", "status C: carrier (MAC) priced"),  # C
        ("99999", "no RVU row for 99999"),
    ],
)
def test_not_payable_codes_are_not_priced_with_reason(mpfs_con, code, reason):
    row = price(mpfs_con, [line(code)]).row(0, named=True)
    assert row["status"] == "not_priced"
    assert row["amount"] is None and row["fee_schedule_amount"] is None  # never a silent zero
    assert row["not_priced_reason"].startswith(reason)


def test_every_status_other_than_a_r_t_is_not_priced(mpfs_con):
    codes = mpfs_con.sql(
        "SELECT min(hcpcs) AS hcpcs, status_code FROM mpfs_rvu WHERE year = 2025 "
        "AND release = 'A' AND modifier = '' "
        "AND (status_code NOT IN ('A', 'R', 'T') OR work_rvu + nf_pe_rvu + mp_rvu > 0) "
        "GROUP BY status_code ORDER BY status_code"
    ).pl()
    out = price(mpfs_con, [line(c) for c in codes["hcpcs"]])
    for st_code, row in zip(codes["status_code"], out.iter_rows(named=True)):
        if st_code in ("A", "R", "T"):
            assert row["status"] == "priced" and row["amount"] > 0, row
        else:
            assert row["status"] == "not_priced" and row["not_priced_reason"].startswith(f"status {st_code}: ")
    assert set(codes["status_code"]) == set("ABCEIJMNPRTX")


def test_zero_rvu_payable_code_is_not_priced_not_zero(mpfs_con):
    row = price(mpfs_con, [line("A4890")]).row(0, named=True)  # status R, all RVUs 0.00
    assert row["status"] == "not_priced" and row["amount"] is None
    assert row["not_priced_reason"].startswith("no RVUs for A4890 in the non-facility setting (status R)")


def test_modifier_rows_26_tc_53(mpfs_con):
    out = price(
        mpfs_con,
        [
            line("71046"),
            line("71046", mods=["26"]),
            line("71046", mods=["TC"]),
            line("93010", mods=["26"]),
            line("99213", mods=["53"]),
            line("G0121", mods=["53"]),
            line("99213", mods=["25", "59", "XE", "LT"]),
        ],
    )
    rows = out.to_dicts()
    assert [r["rvu_modifier"] for r in rows[:3]] == ["", "26", "TC"]
    assert abs(rows[1]["amount"] + rows[2]["amount"] - rows[0]["amount"]) <= Decimal("0.01")
    assert rows[3]["status"] == "not_priced" and "PC/TC indicator 1" in rows[3]["not_priced_reason"]
    assert rows[4]["status"] == "not_priced" and "individual consideration" in rows[4]["not_priced_reason"]
    assert rows[5]["status"] == "priced" and rows[5]["rvu_modifier"] == "53"
    assert rows[6]["amount"] == Decimal("101.06")  # pricing-neutral modifiers are ignored


def test_facility_uses_facility_pe(mpfs_con):
    nf, f = price(mpfs_con, [line("99213"), line("99213", facility=True)]).to_dicts()
    assert (nf["pe_rvu"], f["pe_rvu"]) == (Decimal("1.35"), Decimal("0.57"))
    assert (nf["setting"], f["setting"]) == ("non-facility", "facility") and f["amount"] < nf["amount"]


# ------------------------------------------------------------------ localities


def test_zip_to_locality(mpfs_con):
    out = price(
        mpfs_con,
        [
            line("99213", zip="10001", locality=None),
            line("99213", zip="99501", locality=None),
            line("99213", zip="00601", locality=None),
            line("99213", zip="38601-1234", locality=None),
            line("99213", zip="10001", locality="0210201"),
        ],
    )
    assert out["locality_code"].to_list() == ["1320201", "0210201", "0920220", "0730200", "0210201"]
    assert out["locality_source"].to_list() == ["zip5", "zip5", "zip5", "zip5", "given"]
    assert out["locality_name"].to_list()[:3] == ["MANHATTAN", "ALASKA", "PUERTO RICO"]


def test_plus_four_zip_without_zip9_falls_back_and_says_so(mpfs_con):
    a, b = price(
        mpfs_con, [line("99213", zip="90265", locality=None), line("99213", zip="902651234", locality=None)]
    ).to_dicts()
    assert a["locality_code"] == b["locality_code"] == "0118218"
    assert "no 9-digit ZIP given" in a["locality_note"] and "used the ZIP5 default locality" in a["locality_note"]
    assert "no ZIP9 file imported" in b["locality_note"]


def test_unknown_zip_and_locality_are_not_priced(mpfs_con):
    out = price(
        mpfs_con,
        [line("99213", zip="00000", locality=None), line("99213", locality="9999999"), line("99213", locality=None)],
    ).to_dicts()
    assert out[0]["not_priced_reason"] == "ZIP 00000 not in the 2025 ZIP code file"
    assert out[1]["not_priced_reason"] == "locality 99999-99 not in GPCI2025"
    assert out[2]["not_priced_reason"].startswith("no ZIP code or locality given")


ZIP9_RECORD = "CA902650118217      11234      A"
ZIP9_RECORD = ZIP9_RECORD.ljust(75) + "20252"


def test_zip9_exception_overrides_zip5(mpfs_db, tmp_path):
    """A tiny ZIP9 file in the documented layout (ZIP9lyout.txt), shipped as release B of 2025."""
    assert len(ZIP9_RECORD) == 80 and ZIP9_RECORD[20] == "1" and ZIP9_RECORD[21:25] == "1234"
    folder = tmp_path / "zip9"
    folder.mkdir()
    (folder / "ZIP9_APR2025.txt").write_bytes((ZIP9_RECORD + "\r\n").encode("ascii"))
    con = connect(mpfs_db)
    result = import_release(con, folder, 2025, "B")
    assert {f.kind: f.inherited_from for f in result.files}["zip9"] is None
    assert {f.kind: f.inherited_from for f in result.files}["gpci"] == "A"
    rows = price(
        con,
        [
            line("99213", when=date(2025, 5, 1), zip="90265-1234", locality=None),
            line("99213", when=date(2025, 5, 1), zip="902659999", locality=None),
            line("99213", when=date(2025, 11, 1), zip="902651234", locality=None),
        ],
    ).to_dicts()
    assert rows[0]["mpfs_release"] == "B" and rows[0]["locality_code"] == "0118217"
    assert rows[0]["locality_source"] == "zip9" and rows[0]["locality_note"] is None
    assert rows[1]["locality_code"] == "0118218" and "not in the ZIP9 file" in rows[1]["locality_note"]
    assert rows[2]["mpfs_release"] == "D" and rows[2]["locality_source"] == "zip9"  # D inherits B's ZIP9
    con.close()


# ------------------------------------------------------------------ releases, years, missing files


def test_release_in_force_by_service_date(mpfs_con):
    out = price(
        mpfs_con,
        [
            line("99213", when=date(2025, 9, 30)),
            line("99213", when=date(2025, 10, 1)),
            line("99213", when=date(2026, 3, 1), year=2025),
            line("99213", when=None, year=2025),
        ],
    )
    assert out["mpfs_release"].to_list() == ["A", "D", "A", "D"]
    assert out["mpfs_year"].to_list() == [2025] * 4


def test_missing_2026_gpci_raises_with_file_and_next_step(mpfs_con):
    with pytest.raises(ReferenceDataMissing) as err:
        price(mpfs_con, [line("99213", when=date(2026, 8, 1))])
    text = str(err.value)
    assert "GPCI2026.csv" in text
    assert "underpay fee-schedule download --year 2026" in text and "--national" in text


def test_missing_year_raises_and_mark_mode_marks(mpfs_con):
    with pytest.raises(ReferenceDataMissing, match="no MPFS 2024 release imported"):
        price(mpfs_con, [line("99213", when=date(2024, 5, 1))])
    out = price(
        mpfs_con,
        [line("99213", when=date(2024, 5, 1)), line("99213", when=date(2026, 8, 1)), line("99213")],
        on_missing="mark",
    ).to_dicts()
    assert out[0]["status"] == out[1]["status"] == "not_priced"
    assert "GPCI2026.csv" in out[1]["not_priced_reason"]
    assert out[2]["amount"] == Decimal("101.06")


def test_line_without_date_or_year_is_not_priced(mpfs_con):
    row = price(mpfs_con, [line("99213", when=None)]).row(0, named=True)
    assert row["status"] == "not_priced" and row["not_priced_reason"] == "no service_date or year given"


def test_2026_national_on_purpose_and_release_note(mpfs_con):
    out = price(
        mpfs_con, [line("99213", when=date(2026, 8, 1)), line("99213", when=date(2026, 2, 1))], national=True
    ).to_dicts()
    assert out[0]["amount"] == (Decimal("2.85") * Decimal("33.4009")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert out[0]["work_gpci"] == out[0]["pe_gpci"] == out[0]["mp_gpci"] == Decimal("1.000")
    assert out[0]["locality_source"] == "national" and out[0]["release_note"] is None
    assert out[1]["mpfs_release"] == "C" and "no release in force on 2026-02-01" in out[1]["release_note"]


def test_qp_conversion_factor(mpfs_con):
    (non_qp,) = price(mpfs_con, [line("99214", when=date(2026, 8, 1))], national=True)["conversion_factor"]
    (qp,) = price(mpfs_con, [line("99214", when=date(2026, 8, 1))], national=True, qp=True)["conversion_factor"]
    assert (non_qp, qp) == (Decimal("33.4009"), Decimal("33.5675"))
    (cf25,) = price(mpfs_con, [line("99214")], qp=True)["conversion_factor"]
    assert cf25 == Decimal("32.3465")  # 2025 has a single conversion factor


# ------------------------------------------------------------------ payment policy


def test_policy_percentages(mpfs_con):
    rows = [
        line("27447", facility=True),  # 0 base
        line("27447", mods=["50"], facility=True),  # 1 bilateral indicator 1: 150%
        line("27447", mods=["80"], facility=True),  # 2 assistant 16%
        line("27447", mods=["AS"], facility=True),  # 3 AS 13.6%
        line("27447", mods=["62"], facility=True),  # 4 co-surgeon 62.5%
        line("99213", npp=True),  # 5 NPP 85%
        line("73560", mods=["50"]),  # 6 bilateral indicator 3: 200%
        line("27447", mods=["66"], facility=True),  # 7 team: by report
        line("20553", mods=["80"]),  # 8 assistant indicator 1: not payable
        line("27447", mods=["50"], facility=True),  # 9 without apply_policy below
        line("27447", mods=["50", "62"], facility=True, npp=True),
    ]  # 10 150% x 62.5% x 85%
    out = price(mpfs_con, rows, apply_policy=True).to_dicts()
    base = out[0]["amount"]
    q = lambda x: x.quantize(Decimal("0.01"), ROUND_HALF_UP)  # noqa: E731
    assert out[1]["amount"] == q(base * Decimal("1.5")) and "150%" in out[1]["policy_reason"]
    assert out[2]["amount"] == q(base * Decimal("0.16"))
    assert out[3]["amount"] == q(base * Decimal("0.136")) and "13.6%" in out[3]["policy_reason"]
    assert out[4]["amount"] == q(base * Decimal("0.625"))
    assert out[5]["amount"] == q(Decimal("101.06") * Decimal("0.85"))
    bil3 = price(mpfs_con, [line("73560")]).row(0, named=True)
    assert out[6]["bilat_surg"] == "3" and out[6]["amount"] == q(bil3["amount"] * 2)
    assert out[7]["status"] == "not_priced" and "team surgery" in out[7]["not_priced_reason"]
    assert out[8]["status"] == "not_priced" and "indicator 1" in out[8]["not_priced_reason"]
    assert out[10]["policy_percent"] == Decimal("0.796875")  # exact: no rounded intermediate
    assert out[10]["amount"] == q(base * Decimal("1.5") * Decimal("0.625") * Decimal("0.85"))
    assert out[10]["formula"].endswith(f"; x 79.6875% = ${out[10]['amount']}")
    plain = price(mpfs_con, rows[9:10]).row(0, named=True)
    assert plain["amount"] == base and plain["policy_percent"] == 1 and plain["policy_reason"] is None


def test_multiple_procedure_reduction_ranks_by_amount(mpfs_con):
    rows = [
        line("11042", claim_key="c1"),
        line("27447", claim_key="c1", facility=True),
        line("20553", claim_key="c1"),
        line("99213", claim_key="c1"),
        line("20553", claim_key="c2"),
    ]
    out = price(mpfs_con, rows, apply_policy=True).to_dicts()
    alone = price(mpfs_con, rows).to_dicts()
    assert out[1]["policy_percent"] == 1 and "highest" in out[1]["policy_reason"]
    for i in (0, 2):
        assert out[i]["policy_percent"] == Decimal("0.5")
        assert out[i]["amount"] == (alone[i]["amount"] * Decimal("0.5")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert out[3]["amount"] == alone[3]["amount"] and out[3]["mult_proc"] == "0"  # E/M: no MPPR
    assert out[4]["amount"] == alone[4]["amount"]  # alone on its claim


# ------------------------------------------------------------------ helpers


def test_facility_pos():
    frame = pl.DataFrame({"pos": ["11", "22", "21", "2", "10", "23", "24", "31", "81", None]})
    got = frame.select(is_facility_pos(pl.col("pos")))["pos"].to_list()
    assert got == [False, True, True, True, False, True, True, True, False, None]
    assert "11" not in FACILITY_POS and "19" in FACILITY_POS


def test_medicare_payment_example():
    pay = medicare_payment(Decimal("101.06"))
    assert (pay["medicare_share"], pay["sequestration"], pay["paid"]) == (
        Decimal("80.85"),
        Decimal("1.62"),
        Decimal("79.23"),
    )
    assert medicare_payment(Decimal("101.06"), deductible_remaining=Decimal("257"))["paid"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.decimals(min_value=0, max_value=99999, places=2), min_size=1, max_size=30))
def test_medicare_payment_expr_matches_python(amounts):
    frame = pl.DataFrame({"a": amounts}, schema={"a": pl.Decimal(14, 2)})
    got = frame.select(medicare_payment_expr(pl.col("a")))["a"].to_list()
    assert got == [medicare_payment(a)["paid"] for a in amounts]


class _Rows(list):
    def __repr__(self):  # keep hypothesis failure reports short
        return f"<{len(self)} rows>"


@pytest.fixture(scope="module")
def payable(mpfs_con):
    return _Rows(
        mpfs_con.sql(
            "SELECT r.hcpcs, r.modifier, r.work_rvu, r.nf_pe_rvu, r.f_pe_rvu, r.mp_rvu, r.opps_nf_pe_rvu, "
            "r.opps_f_pe_rvu, r.opps_mp_rvu FROM mpfs_rvu r WHERE year = 2025 AND release = 'A' "
            "AND status_code IN ('A','R','T') AND work_rvu + least(nf_pe_rvu, f_pe_rvu) + mp_rvu > 0 "
            "ORDER BY hcpcs, modifier"
        )
        .pl()
        .to_dicts()
    )


@pytest.fixture(scope="module")
def localities(mpfs_con):
    return _Rows(
        mpfs_con.sql(
            "SELECT carrier, locality, work_gpci, pe_gpci, mp_gpci FROM mpfs_gpci "
            "WHERE year = 2025 AND release = 'A' ORDER BY 1, 2"
        )
        .pl()
        .to_dicts()
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_amount_is_formula_rounded_half_up(mpfs_con, payable, localities, data):
    picks = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(payable) - 1), st.integers(0, len(localities) - 1), st.booleans()),
            min_size=1,
            max_size=40,
        )
    )
    rows = [
        line(
            payable[i]["hcpcs"],
            mods=[payable[i]["modifier"]] if payable[i]["modifier"] else [],
            locality=localities[j]["carrier"] + localities[j]["locality"],
            facility=f,
        )
        for i, j, f in picks
    ]
    out = price(mpfs_con, rows).to_dicts()
    cf = Decimal("32.3465")
    for (i, j, f), row in zip(picks, out):
        r, g = payable[i], localities[j]
        pe = r["f_pe_rvu"] if f else r["nf_pe_rvu"]
        want = ((r["work_rvu"] * g["work_gpci"] + pe * g["pe_gpci"] + r["mp_rvu"] * g["mp_gpci"]) * cf).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        opps_pe = r["opps_f_pe_rvu"] if f else r["opps_nf_pe_rvu"]
        if opps_pe > 0 or r["opps_mp_rvu"] > 0:
            want = min(
                want,
                (
                    (r["work_rvu"] * g["work_gpci"] + opps_pe * g["pe_gpci"] + r["opps_mp_rvu"] * g["mp_gpci"]) * cf
                ).quantize(Decimal("0.01"), ROUND_HALF_UP),
            )
        assert row["amount"] == want, row["formula"]


def test_input_columns_pass_through_and_order_kept(mpfs_con):
    frame = pl.DataFrame(
        {
            "row_id": [5, 3, 9],
            "procedure_code": ["99213", "99214", "99999"],
            "service_date": [date(2025, 3, 1)] * 3,
            "locality": ["1320201"] * 3,
            "claim_id": ["x", "y", "z"],
        }
    )
    out = price_lines(mpfs_con, frame)
    assert out["row_id"].to_list() == [5, 3, 9] and out["claim_id"].to_list() == ["x", "y", "z"]
    assert out.schema["amount"] == pl.Decimal(14, 2) and out.schema["work_gpci"] == pl.Decimal(9, 3)
    assert out["status"].to_list() == ["priced", "priced", "not_priced"]


def test_empty_frame(mpfs_con):
    frame = pl.DataFrame(schema={"row_id": pl.Int64, "procedure_code": pl.String, "service_date": pl.Date})
    assert price_lines(mpfs_con, frame).height == 0


def test_read_only_connection_is_enough(mpfs_template):
    con = duckdb.connect(str(mpfs_template), read_only=True)
    assert price(con, [line("99213")])["amount"].to_list() == [Decimal("101.06")]
    con.close()
