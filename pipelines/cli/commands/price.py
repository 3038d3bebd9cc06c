"""`underpay price`: the Medicare allowed amount of one code (with its derivation), of a CSV of lines
(--batch, each line alone), or of a CSV of whole claims (--claims, claim-level payment policy)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click

from pipelines.cli.commands.common import db_option, resolve_db


@click.command("price")
@click.argument("code", required=False)
@click.option(
    "--modifier", "modifiers", multiple=True, help="Modifier (repeatable): 26, TC, 53; 50/62/80/AS with --policy."
)
@click.option("--year", type=int, default=None, help="Fee schedule year, e.g. 2025 (the year's latest release).")
@click.option(
    "--date",
    "service_date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date of service: selects the year and the quarterly release in force.",
)
@click.option("--zip", "zip_code", default=None, help="ZIP code of the place of service (5 or 9 digits).")
@click.option("--locality", default=None, help="Carrier + locality, e.g. 1320201 or 13202-01 (Manhattan).")
@click.option("--facility", is_flag=True, help="Facility setting (hospital, ASC, SNF...): facility PE RVUs.")
@click.option("--national", is_flag=True, help="National amount: all GPCIs 1.000, no locality.")
@click.option("--qp", is_flag=True, help="Qualifying APM participant conversion factor (2026+).")
@click.option("--policy", "apply_policy", is_flag=True, help="Apply modifier payment policy (50, 62, 80-82, AS, 66).")
@click.option(
    "--schedule",
    type=click.Choice(["mpfs", "clfs", "asp", "dmepos", "opps", "asc"], case_sensitive=False),
    default=None,
    help="Price from this Medicare schedule [default: the one that prices the code: the physician schedule when it "
    "pays the code, else ASP, CLFS, DMEPOS, PEN].",
)
@click.option(
    "--units", type=click.FloatRange(min=0, min_open=True), default=None, help="Units of service (default 1)."
)
@click.option(
    "--batch",
    "batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV with columns code, modifier, year, zip or locality, facility (true/false).",
)
@click.option(
    "--claims",
    "claims",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of whole claims (claim_id, line, code, modifiers, units, minutes, charge, zip or locality, "
    "facility, provider, year or date), priced claim by claim with Medicare's claim-level rules.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --batch or --claims: the CSV to write (input rows + amounts, status, derivation).",
)
@db_option
def command(
    code,
    modifiers,
    year,
    service_date,
    zip_code,
    locality,
    facility,
    national,
    qp,
    apply_policy,
    schedule,
    units,
    batch,
    claims,
    out,
    db,
):
    """Price CODE (e.g. `underpay price 99213 --year 2025 --zip 10001`), a CSV of lines with
    --batch IN --out OUT, or a CSV of whole claims with --claims IN --out OUT.

    Prints the allowed amount, its derivation (RVUs x GPCIs x CF, OPPS cap) and what Medicare pays
    (80% less 2% sequestration; deductible ignored). --claims applies the claim-level rules
    (multiple procedures, bilateral, split care, anesthesia, lesser of charge) and writes
    allowed, status, reason and derivation after the input's own columns.
    """
    from fee_schedules.quote import price_csv, price_one
    from pipelines.core.warehouse import connect

    if claims is not None:
        if code or batch is not None:
            raise click.UsageError("give one of CODE, --batch or --claims")
        if out is None:
            raise click.UsageError("--claims needs --out OUT.csv")
        per_line = {
            "--modifier": bool(modifiers),
            "--year": year is not None,
            "--date": service_date is not None,
            "--zip": bool(zip_code),
            "--locality": bool(locality),
            "--facility": facility,
            "--policy": apply_policy,
            "--schedule": schedule is not None,
            "--units": units is not None,
        }
        given = [name for name, on in per_line.items() if on]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} cannot be used with --claims: each line's values come from its columns "
                "(claim-level policy always applies)"
            )
    elif batch is not None:
        if out is None:
            raise click.UsageError("--batch needs --out OUT.csv")
        if code:
            raise click.UsageError("give either CODE or --batch, not both")
        if units is not None:
            raise click.UsageError(
                "--units is for one CODE: a --batch file gives each line's units in its units column"
            )
    else:
        if not code:
            raise click.UsageError("give a CODE (or --batch IN.csv --out OUT.csv, or --claims IN.csv --out OUT.csv)")
        if year is None and service_date is None:
            raise click.UsageError("give --year YYYY (or --date YYYY-MM-DD)")
        if not national and not (zip_code or locality):
            raise click.UsageError("give --zip or --locality (or --national)")
        if zip_code and locality:
            raise click.UsageError("give --zip or --locality, not both")
    db_path = resolve_db(db)
    con = connect(db_path)
    try:
        if claims is not None:
            from fee_schedules.claims_csv import price_claims_csv

            click.echo(str(price_claims_csv(con, claims, out, national=national, qp=qp)))
        elif batch is not None:
            click.echo(
                str(
                    price_csv(
                        con,
                        batch,
                        out,
                        national=national,
                        qp=qp,
                        apply_policy=apply_policy,
                        schedule=schedule.lower() if schedule else None,
                    )
                )
            )
        else:
            click.echo(
                str(
                    price_one(
                        con,
                        code.strip().upper(),
                        year=year,
                        modifiers=[m.upper() for m in modifiers],
                        zip=zip_code,
                        locality=locality,
                        facility=facility,
                        service_date=service_date.date() if service_date else None,
                        national=national,
                        qp=qp,
                        apply_policy=apply_policy,
                        schedule=schedule.lower() if schedule else None,
                        units=Decimal(str(units)) if units is not None else Decimal(1),
                    )
                )
            )
    finally:
        con.close()
