"""Faults the nightly run meets in a real inbox (issue 12, items 1, 6 and 8): a poison file, an
unreadable or oddly named file, a symlink, Ctrl-C. One bad file never stops the run for good: it is
quarantined with a note (or left with a logged reason), the rest load, and the `runs` row is always
closed (never left `running`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.core.errors import Interrupted
from pipelines.core.warehouse import connect
from pipelines.ingest.load import ingest_paths
from pipelines.runs.nightly import ERROR_SUFFIX, run_nightly

ROOT = Path(__file__).resolve().parents[2]
NAME_MAX = 255


def _rows(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _settle(path: Path) -> None:
    os.utime(path, (0, 0), follow_symlinks=False)


def _sample(synth_files) -> bytes:
    return synth_files[0].read_bytes()


def _with_delimiters(data: bytes, *, element: bytes | None = None, segment: bytes | None = None) -> bytes:
    """The file with its element separator (ISA byte 3) or segment terminator (ISA byte 105)
    replaced everywhere: the ISA stays 106 bytes long."""
    out = data
    if segment is not None:
        out = out.replace(data[105:106], segment)
    if element is not None:
        out = out.replace(data[3:4], element)
    return out


def _run(site, nightly_argv, run_cli, tmp_path, *extra, library_panic_allowed=False):
    """The CLI run. ``library_panic_allowed``: polars prints its own report of a panic to stderr
    (a Rust panic message and the Python error under it) before the loader catches it; until the
    parser rejects non-ASCII delimiters before polars sees them (H1), that output may appear."""
    proc = run_cli(nightly_argv(site, *extra), cwd=tmp_path)
    if not (library_panic_allowed and "panicked" in proc.stderr):
        assert "Traceback" not in proc.stderr, proc.stderr
    assert not any(line.startswith("Error:") for line in proc.stderr.splitlines()), proc.stderr
    return proc


def _assert_quarantined_rest_loaded(site, synth_files, bad_names):
    for name in bad_names:
        assert (site.quarantine / name).exists(), sorted(os.listdir(site.quarantine))
    notes = [p for p in site.quarantine.iterdir() if p.name.endswith(ERROR_SUFFIX)]
    assert len(notes) == len(bad_names)
    assert sorted(p.name for p in site.archive.iterdir()) == sorted(f.name for f in synth_files)
    assert list(site.inbox.iterdir()) == []
    status, rejected, loaded = _rows(site.warehouse, "SELECT status, files_rejected, files_loaded FROM runs")[0]
    assert (status, rejected, loaded) == ("quarantined", len(bad_names), len(synth_files))


# ----------------------------------------------------------------------------- item 1: poison files


@pytest.mark.parametrize("byte", [b"\x85", b"\xe9", b"\xff"])
def test_non_ascii_segment_terminator_is_quarantined_and_the_rest_load(
    site, synth_files, nightly_argv, run_cli, tmp_path, byte
):
    """\x85 made polars panic (a BaseException) out of the loader: exit 1, runs row left 'running'."""
    bad = site.inbox / "aa-terminator.835"
    bad.write_bytes(_with_delimiters(_sample(synth_files), segment=byte))
    _settle(bad)
    proc = _run(site, nightly_argv, run_cli, tmp_path, library_panic_allowed=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_quarantined_rest_loaded(site, synth_files, ["aa-terminator.835"])
    note = (site.quarantine / f"aa-terminator.835{ERROR_SUFFIX}").read_text()
    assert "aa-terminator.835" in note and "why:" in note


@pytest.mark.parametrize("byte", [b"\xc3", b"\x85"])
def test_non_ascii_element_separator_is_quarantined_and_the_rest_load(
    site, synth_files, nightly_argv, run_cli, tmp_path, byte
):
    """\xc3 split elements into invalid UTF-8: DuckDB refused the insert and the whole run failed (exit 2)."""
    bad = site.inbox / "aa-separator.835"
    bad.write_bytes(_with_delimiters(_sample(synth_files), element=byte))
    _settle(bad)
    proc = _run(site, nightly_argv, run_cli, tmp_path, library_panic_allowed=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_quarantined_rest_loaded(site, synth_files, ["aa-separator.835"])
    assert _rows(site.warehouse, "SELECT count(*) FROM era_files WHERE status = 'rejected'")[0][0] == 1


def test_file_data_error_in_the_warehouse_is_that_files_rejection(site, synth_files):
    """A DuckDB error raised while inserting one file's rows (not the warehouse failing) rejects that
    file only; the library call says so and the next files load."""
    bad = site.inbox / "aa-separator.835"
    bad.write_bytes(_with_delimiters(_sample(synth_files), element=b"\xc3"))
    _settle(bad)
    con = connect(site.warehouse)
    try:
        result = ingest_paths([bad, *sorted(site.inbox.glob("batch*.835"))], con)
    finally:
        con.close()
    first = result.files[0]
    assert first.status == "rejected" and "aa-separator.835" in first.reason
    assert result.loaded == len(synth_files)
    assert _rows(site.warehouse, "SELECT count(*) FROM claims WHERE file_id = ?", [first.file_id])[0][0] == 0


def _drop_privileges_argv(argv: list[str]) -> list[str] | None:
    """Root reads any file whatever its mode: run the CLI as nobody so that chmod 000 bites."""
    if os.geteuid() != 0:
        return argv
    setpriv = "/usr/bin/setpriv"
    if not Path(setpriv).exists():
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]


def test_unreadable_file_is_quarantined_with_a_reason_naming_it(make_site, mpfs_db, synth_files, nightly_argv):
    """The read sat outside the loader's try: the run failed (exit 2) with a message naming no file."""
    # a site every user can reach (pytest's tmp folders are root-only when run as root)
    root = Path(tempfile.mkdtemp(prefix="underpay-unreadable-"))
    try:
        site = make_site(root, mpfs_db, synth_files)
        argv = _drop_privileges_argv(nightly_argv(site))
        if argv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        if os.geteuid() == 0:
            # nobody cannot start the report workers here (the interpreter is root's): load and
            # report the month first, then the run as nobody files re-sent copies (duplicates)
            assert run_nightly(site).exit_code == 0
            for f in synth_files:
                (site.inbox / f.name).write_bytes(f.read_bytes())
                _settle(site.inbox / f.name)
        bad = site.inbox / "aa-locked.835"
        bad.write_bytes(_sample(synth_files) + b"\n")
        _settle(bad)
        if os.geteuid() == 0:
            os.chmod(root, 0o755)
            for dirpath, dirnames, filenames in os.walk(root):
                for name in [*dirnames, *filenames]:
                    os.chown(os.path.join(dirpath, name), 65534, 65534, follow_symlinks=False)
            os.chown(root, 65534, 65534)
            os.chown(bad, 0, 0)
        os.chmod(bad, 0)
        env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(root))
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=180)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "aa-locked.835" in proc.stdout and "could not be read" in proc.stdout
        assert (site.quarantine / "aa-locked.835").exists()
        assert sorted(p.name for p in site.archive.iterdir()) == sorted(f.name for f in synth_files)
        assert list(site.inbox.iterdir()) == []
        assert _rows(site.warehouse, "SELECT status, files_rejected FROM runs ORDER BY run_id DESC")[0] == (
            "quarantined",
            1,
        )
        note = (site.quarantine / f"aa-locked.835{ERROR_SUFFIX}").read_text()
        assert "aa-locked.835" in note and "permission" in note.lower()
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.mark.parametrize("stem", ["a" * 251, "é" * 125 + "b"])
def test_rejected_file_with_a_name_at_name_max_is_quarantined(site, synth_files, nightly_argv, run_cli, tmp_path, stem):
    """`<name>.error.txt` of a 255-byte name is too long for the file system: the note gets a
    shortened (still unique, recognisable) name and the quarantine works."""
    name = stem + ".835"
    assert len(os.fsencode(name)) <= NAME_MAX
    (site.inbox / name).write_bytes(b"not an 835 at all")
    (site.inbox / ("z" + name[1:])).write_bytes(b"not an 835 either")
    for p in site.inbox.iterdir():
        _settle(p)
    proc = _run(site, nightly_argv, run_cli, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_quarantined_rest_loaded(site, synth_files, [name, "z" + name[1:]])
    notes = sorted(p for p in site.quarantine.iterdir() if p.name.endswith(ERROR_SUFFIX))
    assert len({p.name for p in notes}) == 2
    for note in notes:
        assert len(os.fsencode(note.name)) <= NAME_MAX
        assert note.name.startswith(name[:20]) or note.name.startswith("z" + name[1:20])
        assert "file: " in note.read_text()


def test_a_second_bad_night_still_quarantines_under_a_long_name(site, synth_files):
    """The same long-named bad file twice: the second copy gets a free name that still fits."""
    name = "c" * 251 + ".835"
    for attempt in range(2):
        (site.inbox / name).write_bytes(f"garbage {attempt}".encode())
        _settle(site.inbox / name)
        result = run_nightly(site)
        assert result.status == "quarantined", result.summary()
        assert result.exit_code == 1
    names = [p.name for p in site.quarantine.iterdir()]
    assert len(names) == 4 and all(len(os.fsencode(n)) <= NAME_MAX for n in names)


# ----------------------------------------------------------------------------- item 6: Ctrl-C


def test_interrupt_after_a_commit_stops_and_says_the_file_committed(site, synth_files):
    """Ctrl-C raised from the progress callback (right after a file committed): the command stops
    with Interrupted (exit 130) naming the file and saying it committed; nothing is recorded rejected."""
    files = sorted(site.inbox.iterdir())

    def progress(outcome, done, total):
        if done == 2:
            raise KeyboardInterrupt

    con = connect(site.warehouse)
    try:
        with pytest.raises(Interrupted) as err:
            ingest_paths(files, con, progress=progress)
    finally:
        con.close()
    assert err.value.exit_code == 130
    assert files[1].name in str(err.value) and "committed" in str(err.value)
    rows = _rows(site.warehouse, "SELECT file_name, status FROM era_files ORDER BY file_id")
    assert rows == [(files[0].name, "loaded"), (files[1].name, "loaded")]


def _sigint_nightly(site, argv, delay: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the run has started (lock, warehouse open, runs row written)
        if json.loads(line)["event"] == "run_start":
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    from pipelines.synthetic.writer import write_big

    return write_big(tmp_path_factory.mktemp("big") / "aa-big.835", 150_000, seed=3)


@pytest.mark.parametrize("delay", [0.0, 0.4, 0.8, 1.2, 1.6, 2.2])
def test_sigint_during_nightly_is_consistent_exit_130(site, big_file, nightly_argv, delay):
    """A real SIGINT at several points of loading a big file: exit 130, no traceback, the runs row
    closed as interrupted, and the file either loaded whole (and recorded loaded) or not at all;
    never recorded as rejected. The next run finishes the work."""
    target = site.inbox / big_file.name
    target.write_bytes(big_file.read_bytes())
    _settle(target)
    proc = _sigint_nightly(site, nightly_argv(site, "--json-log"), delay)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 0:  # finished before the signal arrived: nothing to check
        return
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "interrupted" in proc.stderr.lower()
    assert _rows(site.warehouse, "SELECT status FROM runs")[0][0] == "interrupted"
    assert _rows(site.warehouse, "SELECT count(*) FROM era_files WHERE status = 'rejected'")[0][0] == 0
    big = _rows(
        site.warehouse,
        "SELECT count(*), sum(service_lines) FROM era_files WHERE file_name = ? AND status = 'loaded'",
        [big_file.name],
    )[0]
    lines = _rows(
        site.warehouse,
        "SELECT count(*) FROM service_lines JOIN era_files USING (file_id) WHERE file_name = ?",
        [big_file.name],
    )[0][0]
    assert "committed" in proc.stderr  # says whether the file being loaded committed
    if big[0]:
        assert lines == big[1] > 100_000
    else:
        assert lines == 0
    again = run_nightly(site)
    assert again.exit_code == 0, again.summary()
    assert list(site.inbox.iterdir()) == []
    assert (
        _rows(
            site.warehouse, "SELECT count(*) FROM era_files WHERE status = 'loaded' AND file_name = ?", [big_file.name]
        )[0][0]
        == 1
    )


# ----------------------------------------------------------------------------- item 8: inbox names and links


def test_symlinks_in_the_inbox_are_not_followed(site, synth_files, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "elsewhere.835"
    target.write_bytes(_sample(synth_files))
    (outside / "sub").mkdir()
    (outside / "sub" / "deep.835").write_bytes(synth_files[1].read_bytes())
    (site.inbox / "link.835").symlink_to(target)
    (site.inbox / "linked-folder").symlink_to(outside / "sub", target_is_directory=True)
    result = run_nightly(site)
    assert result.exit_code == 1 and result.status == "quarantined", result.summary()
    assert target.read_bytes() == _sample(synth_files)  # untouched, not moved
    assert (outside / "sub" / "deep.835").exists()
    quarantined = {f.name: f for f in result.files if f.status == "rejected"}
    assert set(quarantined) == {"link.835", "linked-folder"}
    assert all("symbolic link" in f.reason for f in quarantined.values())
    assert (site.quarantine / "link.835").is_symlink()
    assert (site.quarantine / f"link.835{ERROR_SUFFIX}").exists()
    # loaded only the real files, once each
    assert _rows(site.warehouse, "SELECT count(*) FROM era_files WHERE status = 'loaded'")[0][0] == len(synth_files)
    assert not list(site.inbox.iterdir())


def test_archive_move_does_not_follow_a_planted_symlink(site, synth_files, tmp_path):
    victim = tmp_path / "victim.835"
    victim.write_bytes(synth_files[0].read_bytes())  # same bytes as the file to archive
    (site.archive / synth_files[0].name).symlink_to(victim)
    result = run_nightly(site)
    assert result.exit_code == 0, result.summary()
    archived = [p for p in site.archive.iterdir() if not p.is_symlink()]
    assert sorted(p.name for p in archived if p.name.startswith("batch01")) != []
    assert sum(p.read_bytes() == synth_files[0].read_bytes() for p in archived) == 1
    assert victim.read_bytes() == synth_files[0].read_bytes()


def test_control_characters_in_names_are_escaped_in_the_text_log(site, nightly_argv, run_cli, tmp_path):
    name = "evil\x1b[31mred\rfake line\n.835"
    (site.inbox / name).write_bytes(b"not an 835")
    raw = os.fsencode(str(site.inbox)) + b"/undecodable-\xff.835"
    with open(raw, "wb") as f:
        f.write(b"not an 835 either")
    for p in site.inbox.iterdir():
        _settle(p)
    proc = _run(site, nightly_argv, run_cli, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    assert not any(line.startswith("fake line") or line.startswith(".835") for line in proc.stdout.splitlines())
    assert "\\x1b" in proc.stdout and "\\x0a" in proc.stdout  # escaped as pipelines.core.logs.printable does
    assert (site.quarantine / name).exists()
    assert os.path.exists(os.fsencode(str(site.quarantine)) + b"/undecodable-\xff.835")
    notes = [p for p in site.quarantine.iterdir() if p.name.endswith(ERROR_SUFFIX)]
    assert len(notes) == 2
    for note in notes:
        text = note.read_text()
        assert "\x1b" not in text and "\r" not in text


def test_the_quarantine_note_holds_no_file_content(site, synth_files):
    """The note says why (a reason the parser made PHI-safe) and where: no byte of the file."""
    data = _sample(synth_files)
    cut = data.index(b"NM1*QC")
    bad = site.inbox / "aa-cut.835"
    bad.write_bytes(data[: cut + 20])
    _settle(bad)
    result = run_nightly(site)
    assert result.status == "quarantined"
    note = (site.quarantine / f"aa-cut.835{ERROR_SUFFIX}").read_text()
    lastname = data[cut:].split(b"~")[0].split(b"*")[3].decode()
    assert lastname and lastname not in note
    assert set(note.splitlines()[0:1]) == {"file: aa-cut.835"}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def _duckdb_caught_ctrl_c() -> duckdb.Error:
    """The error DuckDB raises when Ctrl-C lands while it exports a registered frame (a real one, made so)."""

    class Frame:
        def __arrow_c_stream__(self, requested_schema=None):
            raise KeyboardInterrupt

        def __arrow_c_schema__(self):
            import pyarrow as pa

            return pa.schema({"a": pa.int64()}).__arrow_c_schema__()

    con = duckdb.connect()
    try:
        con.register("ct_payer_keys", Frame())
        con.sql("SELECT * FROM ct_payer_keys").fetchall()
    except duckdb.Error as exc:
        return exc
    finally:
        con.close()
    raise AssertionError("DuckDB did not report the interrupt")


def test_ctrl_c_that_duckdb_reports_as_its_own_error_is_an_interrupt(site, synth_files, monkeypatch):
    """SIGINT during the comparison's frame export reached the run as DuckDB's InvalidInputException
    ("... failed: KeyboardInterrupt: "): it is an interrupt (exit 130, run closed as interrupted), not a failure."""
    from pipelines.cli.failures import describe
    from pipelines.core.errors import is_interrupt
    from pipelines.runs import nightly

    caught = _duckdb_caught_ctrl_c()
    assert is_interrupt(caught) and "KeyboardInterrupt" in str(caught)
    assert describe(caught)[1] == 130 and describe(caught)[0].startswith("interrupted (Ctrl-C)")
    assert not is_interrupt(duckdb.InvalidInputException("value 'KeyboardInterrupt' of row 3 is not a date"))

    def recompute(*args, **kwargs):
        raise caught

    monkeypatch.setattr(nightly, "_recompute", recompute)
    with pytest.raises(Interrupted) as err:  # as a Ctrl-C anywhere else in the run
        run_nightly(site)
    assert err.value.exit_code == 130 and "interrupted (Ctrl-C)" in str(err.value)
    assert _rows(site.warehouse, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1") == [("interrupted",)]
