"""`underpay nightly` (placeholder until its issue lands)."""

import click


@click.command("nightly")
def command():
    """Not built yet."""
    raise click.ClickException("underpay nightly is not built yet")
