"""`underpay ingest` (placeholder until its issue lands)."""

import click


@click.command("ingest")
def command():
    """Not built yet."""
    raise click.ClickException("underpay ingest is not built yet")
