"""Every CLI command is in the README and explains itself in --help."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)


COMMANDS = list(_commands(main))


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:40])
    assert "make demo" in first_screen and "make test" in first_screen


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_in_readme_and_helpful(path):
    assert f"underpay {' '.join(path)}" in README, f"README does not mention `underpay {' '.join(path)}`"
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Not built yet" not in res.output
    body = res.output.split("Options:")[0]
    assert len(body.split()) >= 8, f"`underpay {' '.join(path)} --help` says too little"


def test_top_level_help_lists_every_command():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for path in COMMANDS:
        if len(path) == 1:
            assert path[0] in res.output


def test_readme_links_exist():
    for doc in (
        "docs/operations.md",
        "docs/warehouse.md",
        "docs/contracts.md",
        "docs/fee-schedules.md",
        "docs/reports.md",
    ):
        assert doc in README
    assert (ROOT / "docs" / "operations.md").exists()
    assert "make bench" in README
