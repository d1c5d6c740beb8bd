"""SshTransport's persistent agent against a real sshd: reuse, cancel, a killed process, fallback."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from helpers.sshd_server import children_of

from ppdesk.cancel import CancelToken, Cancelled
from ppdesk.remote.local import PACKAGE_PARENT, LocalTransport


def agent_pids(parent: int) -> List[int]:
    """Return the pids below ``parent`` whose command line runs the core bundle."""
    found = []
    for pid in children_of(parent):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ppdesk-core-" in command:
            found.append(pid)
        found.extend(agent_pids(pid))
    return found


def progress_messages(events: List[dict]) -> List[dict]:
    return [event for event in events if event["type"] == "progress"]


@pytest.mark.ssh
def test_two_scans_share_one_process(make_ssh, private_sshd, demo_workspace):
    local = LocalTransport.for_root(demo_workspace).run_agent("scan")
    transport = make_ssh(server=private_sshd, root=demo_workspace)

    first = transport.run_agent("scan")
    running_after_first = agent_pids(private_sshd.master_pid)
    second = transport.run_agent("scan")
    running_after_second = agent_pids(private_sshd.master_pid)

    assert first == local
    assert second == local
    assert len(running_after_first) == 1
    assert running_after_second == running_after_first


@pytest.mark.ssh
def test_probe_pid_is_the_persistent_process(make_ssh, private_sshd, demo_workspace):
    transport = make_ssh(server=private_sshd, root=demo_workspace)
    pids = {transport.run_agent("probe")["pid"] for _ in range(3)}
    assert len(pids) == 1
    assert pids == set(agent_pids(private_sshd.master_pid))


@pytest.mark.ssh
def test_progress_reaches_on_event(make_ssh, demo_workspace):
    local_events: List[dict] = []
    LocalTransport.for_root(demo_workspace).run_agent("scan", on_event=local_events.append)
    transport = make_ssh(root=demo_workspace)
    transport.run_agent("probe")

    events: List[dict] = []
    transport.run_agent("scan", on_event=events.append)

    assert len(progress_messages(events)) == len(progress_messages(local_events)) > 0
    assert [event["done"] for event in progress_messages(events)] == [
        event["done"] for event in progress_messages(local_events)
    ]
    assert all(event["id"] == events[0]["id"] for event in events)


@pytest.mark.ssh
def test_cancel_then_next_request_works(make_ssh, demo_workspace):
    transport = make_ssh(root=demo_workspace)
    before = transport.run_agent("probe")["pid"]
    persistent = transport._persistent
    cancel = CancelToken()

    def cancel_and_wait_for_close(event: dict) -> None:
        # Without the wait, a scan that ends before the cancel watcher closes
        # the channel returns its result, and the test would depend on speed.
        cancel.cancel()
        deadline = time.monotonic() + 30
        while persistent.usable and time.monotonic() < deadline:
            time.sleep(0.01)

    with pytest.raises(Cancelled):
        transport.run_agent("scan", on_event=cancel_and_wait_for_close, cancel=cancel)
    after = transport.run_agent("probe")["pid"]

    assert after != before
    assert transport.run_agent("probe")["pid"] == after
    assert transport.run_agent("scan") == LocalTransport.for_root(demo_workspace).run_agent("scan")


@pytest.mark.ssh
def test_process_killed_during_scan(make_ssh, demo_workspace):
    local = LocalTransport.for_root(demo_workspace).run_agent("scan")
    transport = make_ssh(root=demo_workspace)
    persistent_pid = transport.run_agent("probe")["pid"]
    killed: List[int] = []

    def kill_once(event: dict) -> None:
        if not killed:
            os.kill(persistent_pid, signal.SIGKILL)
            killed.append(persistent_pid)

    result = transport.run_agent("scan", on_event=kill_once)
    later = [transport.run_agent("probe")["pid"] for _ in range(3)]

    assert killed == [persistent_pid]
    assert result == local
    assert persistent_pid not in later
    assert later[1] == later[2]


@pytest.mark.ssh
def test_process_killed_between_requests_falls_back(make_ssh, demo_workspace, caplog):
    transport = make_ssh(root=demo_workspace)
    persistent_pid = transport.run_agent("probe")["pid"]
    os.kill(persistent_pid, signal.SIGKILL)

    with caplog.at_level(logging.WARNING, logger="ppdesk.remote.agent_requests"):
        data = transport.run_agent("scan")
    replacement = transport.run_agent("probe")["pid"]

    assert data == LocalTransport.for_root(demo_workspace).run_agent("scan")
    assert "running scan in its own process" in caplog.text
    assert replacement != persistent_pid
    assert transport.run_agent("probe")["pid"] == replacement


@pytest.mark.ssh
def test_repeated_failures_use_one_process_each(make_ssh, demo_workspace, monkeypatch):
    from ppdesk.remote import agent_requests

    monkeypatch.setattr(agent_requests, "MAX_PERSISTENT_FAILURES", 1)
    transport = make_ssh(root=demo_workspace)
    os.kill(transport.run_agent("probe")["pid"], signal.SIGKILL)
    transport.run_agent("probe")

    pids = [transport.run_agent("probe")["pid"] for _ in range(2)]

    assert pids[0] != pids[1]
    assert transport.run_agent("scan") == LocalTransport.for_root(demo_workspace).run_agent("scan")


@pytest.mark.ssh
def test_stream_files_runs_in_own_process(make_ssh, demo_workspace):
    transport = make_ssh(root=demo_workspace)
    transport.run_agent("probe")
    assert transport.run_agent("stream_files") == {"served": 0}


def test_serve_mode_lines_carry_request_ids(tmp_path):
    layout = {"root": str(tmp_path)}
    lines = [
        {"op": "serve"},
        {"id": 7, "op": "probe", "layout": layout, "args": {}},
        {"id": "x", "op": "stream_files", "layout": layout, "args": {}},
        {"op": "probe", "layout": layout, "args": {}},
        {"id": 8, "op": "no_such_op", "layout": layout, "args": {}},
    ]
    stdin = "".join(json.dumps(line) + "\n" for line in lines).encode()
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    completed = subprocess.run([sys.executable, "-m", "ppdesk.core"], input=stdin, capture_output=True, env=env, check=True)
    replies = [json.loads(line) for line in completed.stdout.splitlines()]

    assert [reply["type"] for reply in replies] == ["ready", "result", "error", "error", "error"]
    assert replies[0]["pid"] == replies[1]["data"]["pid"]
    assert replies[1]["id"] == 7
    assert replies[2]["id"] == "x"
    assert "serve mode" in replies[2]["message"]
    assert "id" not in replies[3]
    assert replies[3]["kind"] == "invalid_request"
    assert replies[4]["id"] == 8
    assert replies[4]["kind"] == "invalid_request"
