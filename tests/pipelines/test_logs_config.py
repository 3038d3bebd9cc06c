"""The event log (JSON lines, never PHI) and the nightly settings (toml < env < flag)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.config import load_settings
from pipelines.core.logs import EventLog


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True).filter(lambda k: k not in ("ts", "event", "run_id")),
        st.one_of(st.integers(), st.text(max_size=30), st.none()),
        max_size=5,
    )
)
def test_each_event_is_one_json_line(fields):
    buf = io.StringIO()
    log = EventLog(json_lines=True, stream=buf)
    log.run_id = 7
    log.event("file_loaded", **fields)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["event"] == "file_loaded" and rec["run_id"] == 7
    assert {k: rec[k] for k in fields} == fields


def test_phi_fields_are_refused(tmp_path):
    log = EventLog(json_lines=True, stream=io.StringIO(), path=tmp_path / "events.jsonl")
    with pytest.raises(ValueError, match="patient data"):
        log.event("claim", patient_last_name="DOE")
    log.event("ok", files=1)
    log.close()
    assert oct((tmp_path / "events.jsonl").stat().st_mode & 0o777) == "0o600"
    assert "DOE" not in (tmp_path / "events.jsonl").read_text()


def test_settle_seconds_from_toml_env_and_flag(tmp_path):
    cfg = tmp_path / "underpay.toml"
    cfg.write_text('[paths]\ninbox = "in"\n[nightly]\nsettle_seconds = 120\n')
    s = load_settings(cfg, env={})
    assert s.settle_seconds == 120 and s.inbox == tmp_path / "in"
    assert load_settings(cfg, env={"UNDERPAY_SETTLE_SECONDS": "5"}).settle_seconds == 5
    assert s.override(settle_seconds=0, inbox=tmp_path / "x").settle_seconds == 0


def test_example_config_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "underpay.toml.example"
    s = load_settings(example, env={})
    assert s.practice_zip == "10001" and s.settle_seconds == 60
