"""`underpay contracts` (placeholder until its issue lands)."""

import click


@click.command("contracts")
def command():
    """Not built yet."""
    raise click.ClickException("underpay contracts is not built yet")
