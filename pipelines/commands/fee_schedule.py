"""`underpay fee-schedule` (placeholder until its issue lands)."""

import click


@click.command("fee-schedule")
def command():
    """Not built yet."""
    raise click.ClickException("underpay fee-schedule is not built yet")
