"""`underpay report` (placeholder until its issue lands)."""

import click


@click.command("report")
def command():
    """Not built yet."""
    raise click.ClickException("underpay report is not built yet")
