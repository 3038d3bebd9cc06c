"""`underpay run` (placeholder until its issue lands)."""

import click


@click.command("run")
def command():
    """Not built yet."""
    raise click.ClickException("underpay run is not built yet")
