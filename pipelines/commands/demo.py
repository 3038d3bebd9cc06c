"""`underpay demo` (placeholder until its issue lands)."""

import click


@click.command("demo")
def command():
    """Not built yet."""
    raise click.ClickException("underpay demo is not built yet")
