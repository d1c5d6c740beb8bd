"""Password logins: one prompt to the user, then the "password" or the keyboard-interactive method.

The password lives only in the connection's CredentialCache, in memory,
and is never written to a profile, a file or the log.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import paramiko

from .errors import ConnectionFailed
from .profiles import Profile
from .ssh_auth import SshPrompts

if TYPE_CHECKING:
    from .ssh_session import CredentialCache

log = logging.getLogger(__name__)


def login_with_password(
    transport: paramiko.Transport, profile: Profile, prompts: SshPrompts, credentials: "CredentialCache"
) -> None:
    """Log in as ``profile.user`` with the password in ``credentials``, asking for it first when none is held.

    The user is asked once per SshTransport, and the password is kept in
    memory for reconnects. A rejected password is dropped, so the next
    attempt prompts again. Raises ConnectionFailed when none was entered,
    and what :func:`_send_password` raises.
    """
    if credentials.password is None:
        answer = prompts.ask_password(profile.user, profile.host) if prompts.ask_password is not None else None
        if answer is None:
            raise ConnectionFailed(f"password needed for {profile.user}@{profile.host}, none was entered")
        credentials.password = answer
    try:
        _send_password(transport, profile, credentials.password)
    except (paramiko.AuthenticationException, ConnectionFailed):
        # A rejected password must be asked for again on the next attempt.
        credentials.password = None
        raise


def _send_password(transport: paramiko.Transport, profile: Profile, password: str) -> None:
    """Log in with the "password" method, or through keyboard-interactive when the server offers only that.

    A "none" request first returns the methods the server offers, so the
    password goes out once, by a method the server lists. Servers that check
    passwords through PAM often offer keyboard-interactive alone. The
    password then answers the first round that has one prompt with echo off,
    and no other prompt; other prompts, such as a one-time code, get empty
    answers. Raises BadAuthenticationType when the server offers neither
    method, AuthenticationException for a wrong password, and
    ConnectionFailed naming the prompts when the server asked for more.
    """
    try:
        transport.auth_none(profile.user)
        return
    except paramiko.BadAuthenticationType as exc:
        offered = list(exc.allowed_types)
    except paramiko.AuthenticationException:
        # The server lists "none" but rejected it, so the offered methods are unknown and "password" is tried.
        offered = ["password"]
    if "password" in offered:
        transport.auth_password(profile.user, password, fallback=False)
        return
    if "keyboard-interactive" not in offered:
        raise paramiko.BadAuthenticationType("Bad authentication type", offered)

    log.debug("%s offers keyboard-interactive but not password login, so the password answers its prompt", profile.host)
    handler = _PasswordPromptHandler(password)
    try:
        transport.auth_interactive(profile.user, handler)
    except paramiko.BadAuthenticationType:
        raise
    except paramiko.AuthenticationException as exc:
        if handler.unanswered:
            prompt_list = ", ".join(repr(text) for text in handler.prompts)
            raise ConnectionFailed(
                f"authentication rejected for {profile.user}@{profile.host}: the server asked for more than a "
                f"password (prompts: {prompt_list}); ppdesk answers one password prompt per login, so check the password, "
                f"or use key authentication when the server also asks for a one-time code"
            ) from exc
        raise


# Characters of a server's keyboard-interactive prompt kept for a message.
_MAX_PROMPT_CHARS = 80


class _PasswordPromptHandler:
    """A keyboard-interactive handler for :func:`_send_password` that sends the password at most once.

    Only a round with exactly one prompt that hides the typed text gets the
    password, so it is never sent to a prompt that would show it. The
    reference to it is dropped once it has been sent.
    """

    def __init__(self, password: str) -> None:
        self._password: Optional[str] = password
        # Every prompt text the server sent, in order, and whether one got an empty answer.
        self.prompts: List[str] = []
        self.unanswered = False

    def __call__(self, title: str, instructions: str, fields: Sequence[Tuple[str, bool]]) -> List[str]:
        self.prompts.extend(text.strip()[:_MAX_PROMPT_CHARS] for text, _echo in fields)
        if len(fields) == 1 and not fields[0][1] and self._password is not None:
            password, self._password = self._password, None
            return [password]
        if fields:
            self.unanswered = True
        return [""] * len(fields)
