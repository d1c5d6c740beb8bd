"""Agent client: real subprocesses that misbehave in the ways a pod can."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import threading

import pytest

from ppdesk.cancel import Cancelled, CancelToken
from ppdesk.remote.agent_client import AgentProcess, run_agent_streams, run_agent_subprocess
from ppdesk.remote.errors import AgentError

REQUEST = b'{"op": "probe", "layout": {}, "args": {}}'


def run_script(source: str, **kwargs):
    argv = [sys.executable, "-c", textwrap.dedent(source)]
    return run_agent_subprocess(argv, REQUEST, **kwargs)


def test_result_line_returns_data():
    data = run_script(
        """
        import json, sys
        request = json.loads(sys.stdin.read())
        print(json.dumps({"type": "result", "data": {"echo": request["op"]}}))
        """
    )
    assert data == {"echo": "probe"}


def test_progress_and_warning_reach_on_event():
    events = []
    run_script(
        """
        import json, sys
        sys.stdin.read()
        print(json.dumps({"type": "progress", "done": 1, "total": 2, "message": "a"}))
        print(json.dumps({"type": "warning", "message": "careful"}))
        print(json.dumps({"type": "result", "data": None}))
        """,
        on_event=events.append,
    )
    assert [event["type"] for event in events] == ["progress", "warning"]
    assert events[0]["done"] == 1
    assert events[1]["message"] == "careful"


def test_error_line_raises_agent_error_with_kind():
    with pytest.raises(AgentError) as info:
        run_script(
            """
            import json, sys
            sys.stdin.read()
            print(json.dumps({"type": "error", "kind": "not_found", "message": "no config x"}))
            sys.exit(1)
            """
        )
    assert info.value.kind == "not_found"
    assert info.value.message == "no config x"


def test_junk_line_is_protocol_error():
    with pytest.raises(AgentError) as info:
        run_script(
            """
            import sys
            sys.stdin.read()
            sys.stderr.write("debug: about to misbehave\\n")
            print("Welcome to the pod!")
            import time; time.sleep(30)
            """
        )
    assert info.value.kind == "protocol"
    assert "Welcome to the pod!" in info.value.message
    assert "about to misbehave" in info.value.message


def test_death_without_result_names_stderr_tail():
    with pytest.raises(AgentError) as info:
        run_script(
            """
            import sys
            sys.stdin.read()
            sys.stderr.write("Traceback: something broke\\n")
            sys.exit(3)
            """
        )
    assert info.value.kind == "protocol"
    assert "exit status 3" in info.value.message
    assert "something broke" in info.value.message


def test_process_ignoring_stdin_is_protocol_error():
    with pytest.raises(AgentError) as info:
        run_script("import os; os._exit(0)")
    assert info.value.kind == "protocol"
    assert "without a result line" in info.value.message


def test_chatty_stderr_does_not_deadlock():
    data = run_script(
        """
        import json, sys
        sys.stdin.read()
        line = "x" * 1023 + "\\n"
        for _ in range(8 * 1024):
            sys.stderr.write(line)
        sys.stderr.flush()
        print(json.dumps({"type": "result", "data": "survived"}))
        """
    )
    assert data == "survived"


def test_chatty_stderr_then_death_quotes_last_lines():
    with pytest.raises(AgentError) as info:
        run_script(
            """
            import sys
            sys.stdin.read()
            for i in range(100000):
                sys.stderr.write(f"noise line {i}\\n")
            sys.stderr.write("final complaint\\n")
            sys.exit(2)
            """
        )
    message = info.value.message
    assert "final complaint" in message
    assert "noise line 99999" in message
    assert "noise line 0\n" not in message


def test_large_result_line():
    data = run_script(
        """
        import json, sys
        sys.stdin.read()
        print(json.dumps({"type": "result", "data": ["y" * 1000] * 5000}))
        """
    )
    assert len(data) == 5000
    assert data[0] == "y" * 1000


def test_line_after_result_is_protocol_error():
    with pytest.raises(AgentError) as info:
        run_script(
            """
            import json, sys
            sys.stdin.read()
            print(json.dumps({"type": "result", "data": 1}))
            print(json.dumps({"type": "result", "data": 2}))
            """
        )
    assert info.value.kind == "protocol"
    assert "after its result line" in info.value.message


def test_cancel_kills_a_hanging_agent():
    token = CancelToken()

    def cancel_on_progress(event):
        token.cancel()

    with pytest.raises(Cancelled):
        run_script(
            """
            import json, sys, time
            sys.stdin.read()
            print(json.dumps({"type": "progress", "done": 0, "total": 1, "message": ""}), flush=True)
            time.sleep(600)
            """,
            on_event=cancel_on_progress,
            cancel=token,
        )


def test_cancel_from_another_thread():
    token = CancelToken()
    started = threading.Event()

    def note_start(event):
        started.set()

    canceller = threading.Thread(target=lambda: (started.wait(), token.cancel()))
    canceller.start()
    with pytest.raises(Cancelled):
        run_script(
            """
            import json, sys, time
            sys.stdin.read()
            print(json.dumps({"type": "progress", "done": 0, "total": 1, "message": ""}), flush=True)
            time.sleep(600)
            """,
            on_event=note_start,
            cancel=token,
        )
    canceller.join()


def test_missing_interpreter_is_no_python():
    with pytest.raises(AgentError) as info:
        run_agent_subprocess(["/nonexistent/python3"], REQUEST)
    assert info.value.kind == "no_python"
    assert "/nonexistent/python3" in info.value.message


def test_streams_reader_works_on_plain_file_objects():
    # An SSH channel offers file objects rather than a Popen; the reader
    # must need nothing more than that.
    stdin = io.BytesIO()
    lines = [
        {"type": "progress", "done": 1, "total": 1, "message": ""},
        {"type": "result", "data": {"ok": True}},
    ]
    stdout = io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    process = AgentProcess(stdin=stdin, stdout=stdout, stderr=io.BytesIO(b""), kill=lambda: None, wait=lambda timeout: 0)
    events = []
    data = run_agent_streams(process, REQUEST, on_event=events.append)
    assert data == {"ok": True}
    assert len(events) == 1
    assert stdin.closed


def test_output_before_reading_large_request():
    # The agent floods stdout before it reads stdin while the client is
    # still writing a request larger than a pipe buffer.
    script = textwrap.dedent(
        """
        import json, sys
        for i in range(20000):
            print(json.dumps({"type": "progress", "done": i, "total": 20000, "message": "early"}))
        sys.stdout.flush()
        request = sys.stdin.read()
        print(json.dumps({"type": "result", "data": len(request)}))
        """
    )
    request = json.dumps({"op": "probe", "args": {"pad": "p" * (2 * 1024 * 1024)}}).encode()
    events = []
    data = run_agent_subprocess([sys.executable, "-c", script], request, on_event=events.append)
    assert data == len(request)
    assert len(events) == 20000
