"""Faults a user can cause, through the real `underpay` command: one `Error:` line naming the file
and what to do, a documented exit status (0 ok, 1 rejected, 2 failed, 130 interrupted), never a
traceback. When the suite runs as root, the permission cases run the command without the
capabilities that let root ignore file modes (setpriv), so a mode is enforced as for any user."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipelines.cli.main import main
from pipelines.core.errors import UnderpayError
from pipelines.core.logs import EventLog, printable
from pipelines.core.outputs import private_open

ROOT = Path(__file__).resolve().parents[2]
UNDERPAY = ROOT / ".venv" / "bin" / "underpay"
GOOD = ROOT / "tests" / "ingest" / "fixtures" / "good_5010.835"
CONTRACTS = ROOT / "contracts" / "examples"
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def underpay(*args, cwd: Path, as_user: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    """`underpay ARGS` in a subprocess; ``as_user``: with file modes enforced even for root."""
    if as_user and UNPRIVILEGED and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    prefix = UNPRIVILEGED if as_user else []
    return subprocess.run(
        [*prefix, str(UNDERPAY), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def one_error(r, code: int, *words: str) -> str:
    """The run ended with ``code``, exactly one `Error:` line holding ``words``, no traceback."""
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out
    assert r.returncode == code, out
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


@pytest.fixture()
def home(tmp_path):
    yield tmp_path
    for p in tmp_path.rglob("*"):  # undo the modes the tests set, so pytest can clean up
        if not p.is_symlink():
            p.chmod(0o700)


def _commands(db: Path, home: Path) -> dict[str, list]:
    return {
        "ingest": ["ingest", GOOD, "--db", db],
        "report": ["report", "--month", "2025-01", "--db", db, "--out", home / "r"],
        "compare": ["compare", "--db", db, "--contracts", CONTRACTS],
        "run": ["run", "--month", "2025-01", "--db", db, "--contracts", CONTRACTS, "--reports", home / "r"],
        "nightly": ["nightly", "--db", db, "--inbox", home / "in", "--archive", home / "a", "--quarantine",
                    home / "q", "--contracts", CONTRACTS, "--reports", home / "r"],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["ingest", "report", "compare", "run", "nightly"])
def test_a_corrupted_warehouse(home, command):
    db = home / "warehouse.duckdb"
    db.write_bytes(os.urandom(300_000))
    (home / "in").mkdir()
    r = underpay(*_commands(db, home)[command], cwd=home)
    one_error(r, 2, str(db), "damaged", "backup")


@pytest.mark.parametrize("command", ["ingest", "compare", "run", "nightly"])
def test_db_under_a_regular_file(home, command):
    (home / "notes.txt").write_text("x")
    (home / "in").mkdir()
    r = underpay(*_commands(home / "notes.txt" / "warehouse.duckdb", home)[command], cwd=home)
    one_error(r, 2, "notes.txt")


def test_out_under_a_regular_file(home):
    db = home / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=home).returncode == 0
    (home / "notes.txt").write_text("x")
    r = underpay("compare", "--db", db, "--contracts", CONTRACTS, "--out", home / "notes.txt" / "v.csv", cwd=home)
    one_error(r, 2, "notes.txt")
    r = underpay("report", "--month", "2025-01", "--db", db, "--out", home / "notes.txt" / "r", cwd=home)
    one_error(r, 2, "notes.txt")


def test_read_only_warehouse_file(home):
    db = home / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=home, as_user=True).returncode == 0
    db.chmod(0o444)
    r = underpay("ingest", GOOD, "--db", db, cwd=home, as_user=True)
    one_error(r, 2, str(db), "permission denied")
    ok = underpay("report", "--month", "2025-01", "--db", db, "--out", home / "r", cwd=home, as_user=True)
    assert ok.returncode == 0 and "Traceback" not in ok.stderr, ok.stderr  # reading needs no write access


def test_read_only_folder(home):
    folder = home / "ro"
    folder.mkdir()
    db = folder / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=home, as_user=True).returncode == 0
    folder.chmod(0o555)
    r = underpay("ingest", GOOD, "--db", db, cwd=home, as_user=True)
    one_error(r, 2, str(folder), "not writable")
    ok = underpay("report", "--month", "2025-01", "--db", db, "--out", home / "r", cwd=home, as_user=True)
    assert ok.returncode == 0 and "Traceback" not in ok.stderr, ok.stderr


def test_unreadable_input_file_and_folder(home):
    f = home / "era.835"
    shutil.copy(GOOD, f)
    f.chmod(0o000)
    r = underpay("ingest", f, "--db", home / "w.duckdb", cwd=home, as_user=True)
    one_error(r, 2, str(f), "cannot be read")
    folder = home / "inbox"
    folder.mkdir()
    shutil.copy(GOOD, folder / "a.835")
    folder.chmod(0o000)
    r = underpay("ingest", folder, "--db", home / "w.duckdb", cwd=home, as_user=True)
    one_error(r, 2, str(folder), "cannot list")


def test_a_full_disk_for_the_log_file(home):
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    for d in ("in", "a", "q", "r"):
        (home / d).mkdir()
    args = _commands(home / "w.duckdb", home)["nightly"]
    r = underpay(*args, "--log-file", "/dev/full", cwd=home)
    one_error(r, 2, "/dev/full", "no space left")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_is_exit_130_without_a_traceback(home, sig):
    """Ctrl-C (SIGINT) or SIGTERM (systemctl stop) while the command waits for the warehouse
    another process holds: `Error: interrupted`, exit 130."""
    db = home / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=home).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('held', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = subprocess.Popen(
            [str(UNDERPAY), "ingest", str(GOOD), "--db", str(db)],
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(4)  # past the imports, waiting for the lock (it waits up to 10 s)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    line = one_error(r, 130, "interrupted")
    assert ("SIGTERM" in line) == (sig == signal.SIGTERM)


@pytest.fixture()
def crashing_command():
    """A command that fails the way a bug does (an exception no layer expected), its message
    quoting a value read from a file; registered on the real CLI group for the test."""

    @click.command("crash-for-test")
    @click.option("--panic", is_flag=True)
    def crash(panic):
        if panic:

            class PanicException(BaseException):  # how a polars panic reaches Python
                pass

            raise PanicException("index out of bounds near 'PATEL'")
        int("PATEL")

    main.add_command(crash)
    yield
    main.commands.pop("crash-for-test")


def test_an_unexpected_error_is_one_line_without_phi(crashing_command, caplog):
    import logging

    with caplog.at_level(logging.DEBUG, logger="underpay"):
        r = CliRunner().invoke(main, ["crash-for-test"])
    assert r.exit_code == 2
    assert [line.startswith("Error:") for line in r.output.splitlines()] == [True]
    assert "ValueError" in r.output and "PATEL" not in r.output and "5-character" in r.output
    assert "Traceback" not in r.output
    assert any(rec.exc_info for rec in caplog.records)  # the traceback went to the log (debug)
    panic = CliRunner().invoke(main, ["crash-for-test", "--panic"])
    assert panic.exit_code == 2 and "PanicException" in panic.output and "PATEL" not in panic.output


def test_private_open_never_writes_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    with pytest.raises(UnderpayError, match="symbolic link"):
        private_open(link)
    hard = tmp_path / "export.csv"
    os.link(victim, hard)
    with pytest.raises(UnderpayError, match="hard links"):
        private_open(hard)
    assert victim.read_text() == "keep me"
    with private_open(tmp_path / "new.csv") as fh:
        fh.write("a")
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o600


def test_a_planted_link_in_the_report_folder_is_refused(home):
    db = home / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=home).returncode == 0
    out = home / "r"
    out.mkdir()
    victim = home / "victim.txt"
    victim.write_text("keep me")
    (out / "monthly-2025-01.html").symlink_to(victim)
    r = underpay("report", "--month", "2025-01", "--db", db, "--out", out, cwd=home)
    one_error(r, 2, "symbolic link")
    assert victim.read_text() == "keep me"


def test_the_wal_and_new_folders_are_owner_only(tmp_path, synth_files):
    """The umask holds for the whole command: DuckDB's .wal (made at the first write, after
    connect) and the report folders are owner-only."""
    db = tmp_path / "w.duckdb"
    wal = tmp_path / "w.duckdb.wal"
    seen: set[int] = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                seen.add(wal.stat().st_mode & 0o777)
            except FileNotFoundError:
                pass
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    old = os.umask(0o022)
    try:
        watcher.start()
        r = CliRunner().invoke(main, ["ingest", *map(str, synth_files), "--db", str(db)])
    finally:
        stop.set()
        watcher.join()
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert seen == {0o600}, seen
    r = CliRunner().invoke(main, ["report", "--month", "2025-01", "--db", str(db), "--out", str(tmp_path / "a" / "b")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700


def test_control_characters_in_file_names_are_escaped_in_text_logs(tmp_path):
    import io

    stream = io.StringIO()
    log = EventLog(stream=stream, path=tmp_path / "log.jsonl")
    log.event("file_rejected", file="a\x1b]0;owned\x07b\r\nfile_loaded: x.835", reason="bad")
    log.close()
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text and text.count("\n") == 1
    assert "a\\x1b]0;owned\\x07b\\x0d\\x0afile_loaded" in text
    assert "\\u001b" in (tmp_path / "log.jsonl").read_text()  # JSON escapes by JSON
    assert printable("ok \u202eevil") == "ok \\u202eevil"


def test_nightly_text_log_escapes_an_inbox_file_name(home):
    for d in ("in", "a", "q", "r"):
        (home / d).mkdir()
    (home / "in" / "x\x1b[2Jy.835").write_bytes(b"not an 835 at all")
    os.utime(home / "in" / "x\x1b[2Jy.835", (0, 0))
    args = _commands(home / "w.duckdb", home)["nightly"]
    r = underpay(*args, "--settle-seconds", "0", cwd=home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "\x1b" not in r.stdout + r.stderr
    assert "x\\x1b[2Jy.835" in r.stdout


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 600 kB tmpfs: a real full disk (needs root and a kernel that lets this process mount)."""
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


def test_a_full_disk_for_ingest_and_report(tiny_disk, tmp_path):
    from pipelines.synthetic.writer import write_big

    big = write_big(tmp_path / "big.835", 20_000)
    r = underpay("ingest", big, "--db", tiny_disk / "w.duckdb", cwd=tmp_path)
    one_error(r, 2, "disk is full", "w.duckdb.wal", "free some space")
    db = tmp_path / "w.duckdb"
    assert underpay("ingest", GOOD, "--db", db, cwd=tmp_path).returncode == 0
    with open(tiny_disk / "filler", "wb") as fh:  # fill the rest of the disk
        try:
            fh.write(b"\0" * 700_000)
        except OSError:
            pass
    r = underpay("report", "--month", "2025-01", "--db", db, "--out", tiny_disk / "r", cwd=tmp_path)
    one_error(r, 2, str(tiny_disk), "no space left")


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """`underpay ... | head -1`: the pipe closes before the command has written everything; the command
    stops with 141 (as a shell reports SIGPIPE) and no Error line, no traceback."""
    import subprocess
    import sys

    script = tmp_path / "flood.py"
    script.write_text(
        "import sys\n"
        "import click\n"
        "from pipelines.cli.main import main\n"
        '@main.command("flood")\n'
        "def flood():\n"
        '    """Print far more than a pipe holds."""\n'
        "    for _ in range(200000):\n"
        '        click.echo("x" * 80)\n'
        'sys.argv = ["underpay", "flood"]\n'
        "main()\n"
    )
    proc = subprocess.run(
        f"{sys.executable} {script} | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        executable="/bin/bash",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout == "x" * 80 + "\n"
    assert "Error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
