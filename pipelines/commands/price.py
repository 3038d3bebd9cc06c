"""`underpay price` (placeholder until its issue lands)."""

import click


@click.command("price")
def command():
    """Not built yet."""
    raise click.ClickException("underpay price is not built yet")
