"""`underpay ingest`: summary and exit status."""

from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli.main import main


def test_ingest_command_summary_and_exit_codes(fixtures, tmp_path):
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    ok = runner.invoke(main, ["ingest", str(fixtures / "good_5010.835"), "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert "1 file(s): 1 loaded, 0 duplicate, 0 rejected" in ok.output
    assert "2 claims, 2 service lines, $245.00 paid" in ok.output
    again = runner.invoke(main, ["ingest", str(fixtures / "good_5010.835"), "--db", str(db)])
    assert again.exit_code == 0 and "0 loaded, 1 duplicate" in again.output
    bad = runner.invoke(
        main, ["ingest", str(fixtures / "claim_837.835"), str(fixtures / "unbalanced.835"), "--db", str(db)]
    )
    assert bad.exit_code == 1
    assert "1 loaded, 0 duplicate, 1 rejected" in bad.output
    assert "this is an 837 claim, not an 835" in bad.output


def test_ingest_glob_and_missing_path(fixtures, tmp_path):
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    r = runner.invoke(main, ["ingest", str(fixtures / "good_5010*.835"), "--db", str(db)])
    assert r.exit_code == 0 and "2 file(s): 2 loaded" in r.output
    missing = runner.invoke(main, ["ingest", str(tmp_path / "nope.835"), "--db", str(db)])
    assert missing.exit_code == 2 and "no such file or directory" in missing.output


def test_ingest_logs_a_line_every_n_files_without_a_terminal(fixtures, tmp_path, monkeypatch):
    from pipelines.cli.commands import ingest as cmd

    monkeypatch.setattr(cmd, "LOG_EVERY", 2)
    r = CliRunner().invoke(main, ["ingest", str(fixtures), "--db", str(tmp_path / "w.duckdb")])
    assert "ingest: 2/" in r.output and "ingest: 4/" in r.output


def test_console_script_flushes_output_and_keeps_exit_codes(fixtures, tmp_path):
    """The console entry leaves with os._exit after the command: output and exit status must
    still be those of the command (0 loaded, 1 rejected, 2 usage error)."""
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "ingest", *args, "--db", str(tmp_path / "w.duckdb")],
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = run(str(fixtures / "good_5010.835"))
    assert ok.returncode == 0 and "1 file(s): 1 loaded" in ok.stdout, ok.stderr
    bad = run(str(fixtures / "claim_837.835"))
    assert bad.returncode == 1 and "1 rejected" in bad.stdout and "not an 835" in bad.stderr
    missing = run(str(tmp_path / "nothing.835"))
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_ingest_has_polars_keep_freed_memory_unless_the_user_says_otherwise(fixtures, tmp_path):
    """`underpay ingest` sets how long polars' allocator keeps freed pages (5 s) before polars is
    imported (polars then appends it to its own defaults; jemalloc takes the last value of each
    option). A setting of the user's own in _RJEM_MALLOC_CONF is left alone."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys; from pipelines.cli.main import main\n"
        "assert 'polars' not in sys.modules\n"
        f"sys.argv = ['underpay', 'ingest', {str(fixtures / 'good_5010.835')!r}, '--db', {str(tmp_path / 'w.duckdb')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import polars\nprint(os.environ['_RJEM_MALLOC_CONF'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}

    def conf(**extra):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True, timeout=120, check=True
        )
        return out.stdout.strip().splitlines()[-1]

    ours = conf()
    assert ours.startswith("dirty_decay_ms:500,")  # polars' defaults, then ours
    assert ours.endswith(",dirty_decay_ms:5000,muzzy_decay_ms:5000")
    assert conf(_RJEM_MALLOC_CONF="dirty_decay_ms:0").endswith(",dirty_decay_ms:0")
