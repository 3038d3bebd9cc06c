"""`underpay negotiate` (placeholder until its issue lands)."""

import click


@click.command("negotiate")
def command():
    """Not built yet."""
    raise click.ClickException("underpay negotiate is not built yet")
