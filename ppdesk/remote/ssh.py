"""SshTransport: a pod reached over SSH, with the agent run next to the workspace.

One SSH connection carries everything: a persistent agent process that
serves agent requests (one session channel per request when it cannot
run), stream channels and SFTP for uploads, stats and downloads. Each
thread that fetches gets its own SFTP channel, so parallel downloads do
not queue behind one another. A lost link is reported as ConnectionLost and the next call opens
a new connection, so the download engine can retry by calling again.
The agent requests are in agent_requests.py, which SshTransport mixes in.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import paramiko

from ppdesk.core.layout import WorkspaceLayout

from .agent_client import build_request
from .agent_requests import AgentRequests
from .cancel_watch import close_on_cancel
from .errors import AgentError, ConnectionLost, RemoteFileError, TransportError
from .hostkeys import HostKeyStore
from .persistent_agent import PersistentAgent
from .profiles import Profile
from .ssh_auth import SshPrompts
from .ssh_fetch import (
    StreamBroken,
    StreamChannel,
    StreamPool,
    StreamStalled,
    measure_round_trip,
    sftp_copy_range,
    window_for_round_trip,
)
from .ssh_session import LINK_ERRORS as _LINK_ERRORS
from .session_gate import SessionGate, SessionLimitReached
from .ssh_session import CredentialCache, open_ssh
from .ssh_watchdog import LinkWatchdog
from .transport import BytesCallback, RemoteStat, Transport

if TYPE_CHECKING:
    from ppdesk.cancel import CancelToken

    from .bundle import Bundle

log = logging.getLogger(__name__)

# Seconds during which stat() on the same thread returns the stat seen at the end of a streamed fetch of that path.
FETCH_STAT_AGE = 5.0
# Rejected session channels in a row after which one fetch gives up, and the
# pause in seconds before its next try, multiplied by the rejection count.
SESSION_REJECTIONS = 5
SESSION_PAUSE = 0.1

# Errors about one remote file, after which the link still works.
_Result = TypeVar("_Result")
_FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class _LocalWriteFailed(Exception):
    """Carries an OSError of the local destination past the mapping of remote errors."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _LocalWrites:
    """Wraps a destination file so that its write errors raise _LocalWriteFailed."""

    def __init__(self, dest: BinaryIO) -> None:
        self._dest = dest

    def write(self, data: bytes) -> int:
        try:
            return self._dest.write(data)
        except OSError as exc:
            raise _LocalWriteFailed(exc) from exc


def sftp_path(path: str) -> bytes:
    """Encode a pod path for SFTP, restoring the original bytes of a name that is not valid UTF-8.

    The agent decodes file names with ``surrogateescape``, so such a name
    arrives here holding lone surrogates. paramiko would encode a ``str``
    path as strict UTF-8 and fail, so the path is sent as bytes.
    """
    return path.encode("utf-8", "surrogateescape")


class _StreamFallback(Exception):
    """Streaming is not possible on this connection; nothing was written yet."""


def _default_bundle() -> "Bundle":
    from .bundle import core_bundle

    return core_bundle()


class SshTransport(AgentRequests, Transport):
    """A workspace on a pod reached over SSH.

    Connects on first use; ``close`` is idempotent and closes every SFTP
    channel. All methods may be called from several worker threads at once.
    ``prompts`` may be called from the connecting thread (host key, key
    passphrase, password); secrets are held in memory only, for reconnects.

    Timeouts are in seconds. ``connect_timeout`` bounds the TCP connect, the
    handshake and each login step. ``io_timeout`` bounds each SFTP reply and
    the watchdog's wait for a probe reply. ``keepalive`` is the interval of
    SSH keepalive packets and of watchdog probes.
    """

    def __init__(
        self,
        profile: Profile,
        prompts: Optional[SshPrompts] = None,
        host_keys: Optional[HostKeyStore] = None,
        layout: Optional[WorkspaceLayout] = None,
        bundle: Optional[Callable[[], "Bundle"]] = None,
        connect_timeout: float = 15.0,
        io_timeout: float = 60.0,
        keepalive: float = 30.0,
    ) -> None:
        self.profile = profile
        self.prompts = prompts or SshPrompts()
        self.host_keys = host_keys or HostKeyStore()
        self.layout = layout or WorkspaceLayout.from_root(profile.root, loras_dir=profile.loras_dir)
        self._bundle_factory = bundle or _default_bundle
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.keepalive = keepalive

        self._lock = threading.RLock()
        self._credentials = CredentialCache()
        self._transport: Optional[paramiko.Transport] = None
        self._watchdog: Optional[LinkWatchdog] = None
        self._generation = 0
        self._ever_connected = False
        # Every SFTP client open on the current connection, and those no thread is using.
        self._sftp_clients: List[paramiko.SFTPClient] = []
        self._idle_sftp: List[paramiko.SFTPClient] = []
        # Stream channels of the current connection, and whether streaming failed on it.
        self._streams = StreamPool()
        self._streams_disabled = False
        # Bounds concurrent fetches once the server has rejected a session channel (MaxSessions).
        self._sessions = SessionGate()
        # Serialises channel opens: paramiko 5.1 keeps one saved exception per
        # connection, so a rejected open could fail another thread's open.
        self._open_lock = threading.Lock()
        # Per thread: (path, RemoteStat, monotonic time) from the end of the last streamed fetch.
        self._fetch_stats = threading.local()
        # Per connection: the shell command that runs the agent, and the data of its interpreter probe.
        self._agent: Optional[Tuple[str, Dict[str, Any]]] = None
        # Per connection: the receive window in bytes of stream and SFTP channels, sized from a measured round trip.
        self._window: Optional[int] = None
        # Per connection: the persistent agent, and how many failed during a request.
        self._persistent: Optional[PersistentAgent] = None
        self._persistent_failures = 0

    # -- lifecycle ---------------------------------------------------------

    def describe(self) -> str:
        return self.profile.address

    def connect(self) -> None:
        """Open the connection unless it is open; raises ConnectionFailed (HostKeyError for host keys)."""
        self._live_transport()

    def reconnect(self, force: bool = False) -> None:
        """Open a new connection if the current one is dead, or always when ``force`` is set.

        Several threads may call this after the same failure; only the first
        one reconnects unless ``force`` is set.
        """
        with self._lock:
            if force:
                self._close_locked()
            self._live_transport()

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                log.info("closing connection to %s", self.describe())
            self._close_locked()

    def _close_locked(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        for client in self._sftp_clients:
            try:
                client.close()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                log.debug("closing an SFTP channel of %s failed: %s", self.describe(), exc)
        self._sftp_clients = []
        self._idle_sftp = []
        self._streams.close_all()
        self._streams = StreamPool()
        self._streams_disabled = False
        if self._persistent is not None:
            self._persistent.close()
            self._persistent = None
        self._persistent_failures = 0
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._agent = None
        self._window = None

    def _live_transport(self) -> paramiko.Transport:
        with self._lock:
            if self._transport is not None and self._transport.is_active():
                return self._transport
            if self._transport is not None or self._ever_connected:
                log.info("connection to %s was lost, reconnecting", self.describe())
            self._close_locked()
            transport = open_ssh(self.profile, self.prompts, self.host_keys, self._credentials, self.connect_timeout)
            transport.set_keepalive(int(self.keepalive))
            self._watchdog = LinkWatchdog(transport, self.describe(), self.keepalive, self.io_timeout)
            self._watchdog.start()
            self._transport = transport
            self._generation += 1
            self._ever_connected = True
            return transport

    def _mark_lost(self, transport: Optional[paramiko.Transport]) -> None:
        """Close a failed connection so that the next call opens a new one."""
        with self._lock:
            if transport is not None and transport is self._transport:
                self._close_locked()

    # -- SFTP --------------------------------------------------------------

    @contextmanager
    def _sftp(self) -> Iterator[Tuple[paramiko.SFTPClient, paramiko.Transport]]:
        """Lend an SFTP client on the live connection to one caller, opening one when none is idle.

        The client goes back to the idle pool afterwards, so the number of
        open SFTP channels stays at the number of concurrent callers. Keeping
        one per thread leaked a channel for every worker thread of every
        download, until the server's MaxSessions limit (10 by default in
        OpenSSH) refused new channels and agent requests failed.
        """
        with self._lock:
            transport = self._live_transport()
            generation = self._generation
            client = self._idle_sftp.pop() if self._idle_sftp else None
        if client is None:
            with self._link_errors(transport, "opening SFTP on", self.describe()):
                # The window bounds the bytes in flight of the SFTP fallback's
                # reads, and paramiko's default of 2 MiB allows about 40 MB/s
                # at a 50 ms round trip.
                window = self._channel_window(transport)
                try:
                    with self._open_lock:
                        client = paramiko.SFTPClient.from_transport(transport, window_size=window)
                except paramiko.ChannelException as exc:
                    raise SessionLimitReached(f"the server rejected an SFTP channel: {exc}") from exc
            if client is None:
                raise ConnectionLost(f"connection lost to {self.describe()}: the server refused an SFTP channel")
            client.get_channel().settimeout(self.io_timeout)
            with self._lock:
                self._sftp_clients.append(client)
        try:
            yield client, transport
        finally:
            with self._lock:
                reusable = generation == self._generation and client in self._sftp_clients
                if reusable and not client.get_channel().closed:
                    self._idle_sftp.append(client)

    @contextmanager
    def _link_errors(self, transport: paramiko.Transport, action: str, path: str) -> Iterator[None]:
        """Map paramiko and socket errors of one remote step to RemoteFileError or ConnectionLost."""
        try:
            yield
        except _FILE_ERRORS as exc:
            raise RemoteFileError(f"cannot read {path} on {self.describe()}: {exc.strerror or exc}") from exc
        except (*_LINK_ERRORS, OSError) as exc:
            if isinstance(exc, _LINK_ERRORS) or not transport.is_active():
                # A read timeout, or a link the watchdog closed, means the server stopped responding.
                stalled = isinstance(exc, socket.timeout) or (self._watchdog is not None and self._watchdog.fired)
                self._mark_lost(transport)
                if stalled:
                    raise ConnectionLost(
                        f"connection to {self.describe()} stalled while {action} {path}: "
                        f"no answer within {self.io_timeout:.0f} s; the connection was closed"
                    ) from exc
                raise ConnectionLost(
                    f"connection lost to {self.describe()} while {action} {path}: {exc or type(exc).__name__}"
                ) from exc
            raise RemoteFileError(f"cannot read {path} on {self.describe()}: {exc}") from exc

    # -- Transport API -----------------------------------------------------

    def stat(self, path: str) -> RemoteStat:
        """Return size and mtime of a remote file; RemoteFileError if missing, ConnectionLost on a dead link.

        Right after a streamed fetch of ``path`` on this thread, returns the
        stat the pod took after its last read instead of asking again.
        """
        seen = getattr(self._fetch_stats, "entry", None)
        self._fetch_stats.entry = None
        if seen is not None and seen[0] == path and time.monotonic() - seen[2] < FETCH_STAT_AGE:
            return seen[1]
        return self._within_session_limit(path, None, lambda: self._sftp_stat(path))

    def _sftp_stat(self, path: str) -> RemoteStat:
        with self._sftp() as (client, transport), self._link_errors(transport, "reading the size of", path):
            attrs = client.stat(sftp_path(path))
        return RemoteStat(size=int(attrs.st_size or 0), mtime=float(attrs.st_mtime or 0))

    def fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int = 0,
        length: Optional[int] = None,
        on_bytes: Optional[BytesCallback] = None,
        cancel: Optional["CancelToken"] = None,
    ) -> int:
        """Copy remote bytes into ``dest``; see Transport.fetch.

        The pod's agent streams the bytes (ssh_fetch.StreamChannel). When
        the agent cannot run, SFTP carries them. A stream that breaks raises
        ConnectionLost, and after a break on a live link the connection uses
        SFTP from then on. ``cancel`` is checked between 1 MiB frames. Stops early at the
        end of the file, so the count may be less than ``length``. Write
        errors on ``dest`` propagate as OSError. When the server rejects a
        session channel, the fetch waits for another fetch to finish its
        channel (SessionGate) instead of failing.
        """
        return self._within_session_limit(
            path, cancel, lambda: self._fetch_once(path, dest, offset, length, on_bytes, cancel)
        )

    def _within_session_limit(self, path: str, cancel: Optional["CancelToken"], call: Callable[[], _Result]) -> _Result:
        """Run ``call`` in a slot of the session gate, again after each rejected session channel."""
        rejections = 0
        while True:
            with self._sessions.slot(cancel):
                try:
                    return call()
                except SessionLimitReached as exc:
                    rejections += 1
                    self._check_session_limit(exc, path, rejections)

    def _fetch_once(
        self,
        path: str,
        dest: BinaryIO,
        offset: int,
        length: Optional[int],
        on_bytes: Optional[BytesCallback],
        cancel: Optional["CancelToken"],
    ) -> int:
        if not self._streams_disabled:
            try:
                return self._stream_fetch(path, dest, offset, length, on_bytes, cancel)
            except _StreamFallback as exc:
                log.warning("cannot stream %s from %s (%s); using SFTP", path, self.describe(), exc)
            except SessionLimitReached as exc:
                # An idle SFTP client needs no new session, so it can carry this file.
                with self._lock:
                    if not self._idle_sftp:
                        raise
                log.info("cannot stream %s from %s (%s); using an idle SFTP channel", path, self.describe(), exc)
        return self._sftp_fetch(path, dest, offset, length, on_bytes, cancel)

    def _check_session_limit(self, exc: SessionLimitReached, path: str, rejections: int) -> None:
        """Lower the session limit and pause briefly so the caller can try again; raise TransportError when it cannot.

        A fetch gives up after SESSION_REJECTIONS rejections in a row, or
        when no channel of this connection serves another fetch, because
        then waiting frees nothing.
        """
        with self._lock:
            open_channels = self._streams.open_count() + len(self._sftp_clients)
        if rejections <= SESSION_REJECTIONS and self._sessions.lower(self.describe(), open_channels):
            time.sleep(SESSION_PAUSE * rejections)
            return
        raise TransportError(
            f"{self.describe()} rejected a new SSH session for {path} ({exc}; {rejections} in a row); raise "
            f"MaxSessions in the pod's sshd_config or lower the number of parallel downloads (--jobs)"
        ) from exc

    def _stream_fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int,
        length: Optional[int],
        on_bytes: Optional[BytesCallback],
        cancel: Optional["CancelToken"],
    ) -> int:
        """Fetch through a pooled stream channel.

        Raises _StreamFallback before the first byte when the agent cannot
        run, and ConnectionLost when the stream breaks.
        """
        pool = self._streams
        channel, transport = self._stream_channel(pool)
        healthy = False
        try:
            result = channel.fetch(path, dest, offset, length, on_bytes, cancel)
            healthy = True
        except RemoteFileError:
            # The pod reported the error in the protocol, so the stream is still in step.
            healthy = True
            raise
        except StreamBroken as exc:
            # A killed link often shows here as a stream that ended before
            # paramiko marks the transport inactive, so every break counts as
            # a lost connection and the caller resumes. On a live link the
            # agent itself failed, so the resumed fetch uses SFTP.
            if isinstance(exc, StreamStalled) or not transport.is_active():
                self._mark_lost(transport)
            else:
                self._streams_disabled = True
            raise ConnectionLost(f"connection lost to {self.describe()} while streaming {path}: {exc}") from exc
        finally:
            pool.give_back(channel, healthy)
        self._fetch_stats.entry = (path, RemoteStat(size=result.size, mtime=result.mtime), time.monotonic())
        return result.copied

    def _stream_channel(self, pool: StreamPool) -> Tuple[StreamChannel, paramiko.Transport]:
        """Return an idle stream channel of ``pool`` or a new one; raise _StreamFallback when the agent cannot run."""
        try:
            command, _probe = self._agent_setup()
        except AgentError as exc:
            self._streams_disabled = True
            raise _StreamFallback(f"the agent cannot run: {exc}") from exc
        transport = self._live_transport()
        channel = pool.take()
        if channel is not None:
            return channel, transport
        with self._link_errors(transport, "opening a stream channel on", self.describe()):
            window = self._channel_window(transport)
            try:
                with self._open_lock:
                    channel = StreamChannel.open(
                        transport,
                        command,
                        build_request("stream_files", self.layout, {}),
                        self.io_timeout,
                        window,
                    )
            except paramiko.ChannelException as exc:
                # The server rejected one more session (OpenSSH allows
                # MaxSessions, 10 by default, per connection). The link is
                # fine, so fetch() waits for another fetch to free its channel.
                raise SessionLimitReached(f"the server rejected another session channel: {exc}") from exc
        pool.track(channel)
        return channel, transport

    def _channel_window(self, transport: paramiko.Transport) -> int:
        """Return the window of new stream and SFTP channels on ``transport``, measuring the round trip once.

        Raises what measure_round_trip raises; callers map it with _link_errors.
        """
        window = self._window
        if window is None:
            round_trip = measure_round_trip(transport)
            window = window_for_round_trip(round_trip)
            log.debug("round trip to %s: %.1f ms, channel window %d bytes", self.describe(), round_trip * 1000, window)
            with self._lock:
                if transport is self._transport:
                    self._window = window
        return window

    def _sftp_fetch(
        self,
        path: str,
        dest: BinaryIO,
        offset: int,
        length: Optional[int],
        on_bytes: Optional[BytesCallback],
        cancel: Optional["CancelToken"],
    ) -> int:
        with self._sftp() as (client, transport):
            with self._link_errors(transport, "opening", path):
                handle = client.open(sftp_path(path), "rb")
            # A read or a close blocked on a stalled server cannot check ``cancel``,
            # so closing the channel ends it. The client is not reused after that.
            with close_on_cancel(cancel, client.get_channel().close, path):
                try:
                    with self._link_errors(transport, "reading", path):
                        size = int(handle.stat().st_size or 0)
                    end = size if length is None else min(size, offset + length)
                    return self._copy_range(handle, transport, path, dest, offset, end, on_bytes, cancel)
                finally:
                    self._close_quietly(handle, path)

    def _copy_range(
        self,
        handle: paramiko.SFTPFile,
        transport: paramiko.Transport,
        path: str,
        dest: BinaryIO,
        start: int,
        end: int,
        on_bytes: Optional[BytesCallback],
        cancel: Optional["CancelToken"],
    ) -> int:
        # NOTE: when the link drops, paramiko's prefetch thread (paramiko 5.1)
        # dies with an unhandled EOFError that Python prints to stderr. This
        # read still raises ConnectionLost.
        try:
            with self._link_errors(transport, "reading", path):
                return sftp_copy_range(handle, _LocalWrites(dest), start, end, on_bytes, cancel)
        except _LocalWriteFailed as failed:
            # A full or failing local disk is the caller's OSError, not a read error on the pod.
            raise failed.error from None

    def _close_quietly(self, handle: paramiko.SFTPFile, path: str) -> None:
        try:
            handle.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("closing %s on %s failed: %s", path, self.describe(), exc)
