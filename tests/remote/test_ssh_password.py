"""Password login end to end: profile, prompt, SshTransport, and a server on 127.0.0.1.

The server is paramiko's ServerInterface, not the OpenSSH fixture. OpenSSH
checks passwords against the system's accounts (shadow file or PAM), and
these tests may neither set a password on an account nor add one. The
paramiko server accepts one password for one user and records every
attempt, so the tests can also check what reached the server.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import paramiko
import pytest

from ppdesk.remote.errors import ConnectionFailed
from ppdesk.remote.hostkeys import HostKeyStore
from ppdesk.remote.profiles import Profile, ProfileStore
from ppdesk.remote.ssh import SshTransport
from ppdesk.remote.ssh_auth import SshPrompts

USER = "trainer"
PASSWORD = "ppdesk-test-password-4f1c"


class _PasswordServerInterface(paramiko.ServerInterface):
    """The login checks of one connection to a PasswordServer."""

    def __init__(self, server: "PasswordServer") -> None:
        self.server = server
        self.user = ""
        # Keyboard-interactive: the index of the round sent last, and the responses received so far.
        self.round = 0
        self.responses: List[str] = []

    def get_allowed_auths(self, username: str) -> str:
        return ",".join(self.server.methods)

    def check_auth_password(self, username: str, password: str) -> int:
        self.server.attempts.append((username, password))
        if "password" in self.server.methods and (username, password) == (USER, PASSWORD):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_interactive(self, username: str, submethods: str):
        if "keyboard-interactive" not in self.server.methods:
            return paramiko.AUTH_FAILED
        self.user, self.round, self.responses = username, 0, []
        return self._query()

    def check_auth_interactive_response(self, responses):
        for response in responses:
            self.server.attempts.append((self.user, response))
        self.responses.extend(responses)
        self.round += 1
        if self.round < len(self.server.interactive_rounds):
            return self._query()
        expected = [answer for _prompt, _echo, answer in self.server.interactive_rounds]
        if self.user == USER and self.responses == expected:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def _query(self) -> paramiko.InteractiveQuery:
        prompt, echo, _answer = self.server.interactive_rounds[self.round]
        return paramiko.InteractiveQuery("", "", (prompt, echo))

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        # Replies to the watchdog's keepalive probes with a failure message, as OpenSSH does.
        return False


@dataclass
class PasswordServer:
    """An SSH server on 127.0.0.1 that accepts PASSWORD for USER by the listed ``methods``.

    "password" checks the password method. "keyboard-interactive" sends the
    ``interactive_rounds`` prompts, one per round, as (prompt, echo, expected
    answer). ``attempts`` records (user, password) for each password request
    and (user, answer) for each keyboard-interactive answer.
    """

    methods: List[str] = field(default_factory=lambda: ["password"])
    interactive_rounds: List[Tuple[str, bool, str]] = field(default_factory=lambda: [("Password: ", False, PASSWORD)])
    attempts: List[Tuple[str, str]] = field(default_factory=list)
    host_key: paramiko.PKey = field(default_factory=lambda: paramiko.ECDSAKey.generate())
    port: int = 0
    _listener: Optional[socket.socket] = None
    _thread: Optional[threading.Thread] = None
    _transports: List[paramiko.Transport] = field(default_factory=list)

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="password-server", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _address = self._listener.accept()
            except OSError:
                # stop() shut the listener down.
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            self._transports.append(transport)
            # With an event, start_server returns at once and the handshake
            # runs on the transport's own thread. Waiting here for each
            # handshake would make every later client wait behind a slow one.
            transport.start_server(event=threading.Event(), server=_PasswordServerInterface(self))

    def stop(self) -> None:
        """Stop accepting, wait for the accept thread, and close every connection."""
        if self._listener is not None:
            # close() alone does not wake a thread blocked in accept() on
            # Linux, and the socket would go on accepting connections.
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._thread is not None:
            self._thread.join()
        for transport in self._transports:
            transport.close()


@pytest.fixture
def password_server() -> Iterator[PasswordServer]:
    server = PasswordServer()
    server.start()
    yield server
    server.stop()


@dataclass
class RecordingPrompts:
    """Password prompt callbacks that return ``answers`` in turn and record each prompt's (user, host)."""

    answers: List[Optional[str]]
    prompted: List[Tuple[str, str]] = field(default_factory=list)

    def ask_password(self, user: str, host: str) -> Optional[str]:
        self.prompted.append((user, host))
        return self.answers.pop(0)

    def prompts(self) -> SshPrompts:
        return SshPrompts(ask_password=self.ask_password, confirm_host_key=lambda info: True)


def password_profile(server: PasswordServer, tmp_path: Path) -> Profile:
    return Profile(name="password-pod", host="127.0.0.1", port=server.port, user=USER, auth="password",
                   root=str(tmp_path / "workspace"))


@pytest.fixture
def make_transport(tmp_path: Path, password_server: PasswordServer):
    opened: List[SshTransport] = []
    host_keys = HostKeyStore(own_path=tmp_path / "known_hosts", user_path=tmp_path / "user_known_hosts")

    def make(prompts: RecordingPrompts) -> SshTransport:
        transport = SshTransport(password_profile(password_server, tmp_path), prompts=prompts.prompts(),
                                 host_keys=host_keys, connect_timeout=10.0)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


def test_password_login_asks_once(make_transport, password_server):
    prompts = RecordingPrompts([PASSWORD])
    transport = make_transport(prompts)

    transport.connect()
    transport.reconnect(force=True)

    assert prompts.prompted == [(USER, "127.0.0.1")]
    # Two logins, the second with the password kept in memory.
    assert password_server.attempts == [(USER, PASSWORD), (USER, PASSWORD)]


def test_wrong_password_message(make_transport, password_server):
    prompts = RecordingPrompts(["not the password", PASSWORD])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == f"authentication rejected for {USER}@127.0.0.1"
    assert prompts.prompted == [(USER, "127.0.0.1")]

    # The rejected password is not kept, so the next attempt prompts again.
    transport.connect()
    assert prompts.prompted == [(USER, "127.0.0.1"), (USER, "127.0.0.1")]
    assert password_server.attempts == [(USER, "not the password"), (USER, PASSWORD)]


def test_no_password_entered(make_transport, password_server):
    prompts = RecordingPrompts([None])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value) == f"password needed for {USER}@127.0.0.1, none was entered"
    assert password_server.attempts == []


def test_server_without_password_login(make_transport, password_server):
    password_server.methods = ["publickey"]
    prompts = RecordingPrompts([PASSWORD])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value) == (
        f"authentication rejected for {USER}@127.0.0.1: the server does not accept password login "
        f"(it accepts: publickey)"
    )


def test_keyboard_interactive_login(make_transport, password_server):
    """Servers that check passwords through PAM often offer only keyboard-interactive."""
    password_server.methods = ["publickey", "keyboard-interactive"]
    prompts = RecordingPrompts([PASSWORD])
    transport = make_transport(prompts)

    transport.connect()
    transport.reconnect(force=True)

    assert prompts.prompted == [(USER, "127.0.0.1")]
    # One response per login, each to the one password prompt, and no request by the password method.
    assert password_server.attempts == [(USER, PASSWORD), (USER, PASSWORD)]


def test_keyboard_interactive_wrong_password(make_transport, password_server):
    password_server.methods = ["keyboard-interactive"]
    prompts = RecordingPrompts(["not the password", PASSWORD])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()
    assert str(caught.value) == f"authentication rejected for {USER}@127.0.0.1"

    transport.connect()
    assert prompts.prompted == [(USER, "127.0.0.1"), (USER, "127.0.0.1")]
    assert password_server.attempts == [(USER, "not the password"), (USER, PASSWORD)]


def test_keyboard_interactive_one_time_code(make_transport, password_server):
    password_server.methods = ["keyboard-interactive"]
    password_server.interactive_rounds = [("Password: ", False, PASSWORD), ("Verification code: ", False, "492817")]
    prompts = RecordingPrompts([PASSWORD, PASSWORD])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert str(caught.value) == (
        f"authentication rejected for {USER}@127.0.0.1: the server asked for more than a password "
        f"(prompts: 'Password:', 'Verification code:'); ppdesk answers one password prompt per login, "
        f"so check the password, or use key authentication when the server also asks for a one-time code"
    )
    # The code prompt got an empty answer, not the password again.
    assert password_server.attempts == [(USER, PASSWORD), (USER, "")]
    # The failed login drops the password, so the next attempt prompts again.
    with pytest.raises(ConnectionFailed):
        transport.connect()
    assert len(prompts.prompted) == 2


def test_password_not_sent_to_echoed_prompt(make_transport, password_server):
    password_server.methods = ["keyboard-interactive"]
    password_server.interactive_rounds = [("Account name: ", True, USER)]
    prompts = RecordingPrompts([PASSWORD])
    transport = make_transport(prompts)

    with pytest.raises(ConnectionFailed) as caught:
        transport.connect()

    assert "(prompts: 'Account name:')" in str(caught.value)
    assert password_server.attempts == [(USER, "")]


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_password_not_stored_or_logged(make_transport, password_server, tmp_path, caplog, method):
    password_server.methods = [method]
    caplog.set_level(logging.DEBUG)
    # As with --verbose: ppdesk's log set-up otherwise keeps paramiko at WARNING.
    caplog.set_level(logging.DEBUG, logger="paramiko")
    prompts = RecordingPrompts([PASSWORD])
    transport = make_transport(prompts)
    transport.connect()
    store = ProfileStore(tmp_path / "config" / "profiles.json")

    store.save(transport.profile)
    transport.close()

    text = store.path.read_text()
    assert PASSWORD not in text
    assert json.loads(text)["profiles"][0]["auth"] == "password"
    assert PASSWORD not in repr(transport.profile)
    # paramiko logs each step of the login at DEBUG; none of the records may carry the password.
    assert any(record.name.startswith("paramiko") for record in caplog.records)
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in str(record.args) for record in caplog.records)
