"""`underpay compare` (placeholder until its issue lands)."""

import click


@click.command("compare")
def command():
    """Not built yet."""
    raise click.ClickException("underpay compare is not built yet")
