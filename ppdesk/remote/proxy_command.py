"""A ProxyCommand process used as the socket of a paramiko transport.

paramiko's own ProxyCommand (checked against paramiko 5.1) has two faults
that matter here. It never reads the command's stderr, so a command that
writes more than a pipe holds (64 KiB on Linux), such as ``ssh -v -W``,
blocks. And once the command has exited, its ``recv`` reads end of file but
polls again until the timeout instead of returning it. A login through a
command that fails at once thus waits for the whole connect timeout, at
full CPU, and the message names neither the command nor its error.

:class:`ProxyCommandSocket` reads stdout and stderr on threads of its own
(which also works with Windows pipes, where ``select`` does not). The end of
the command's output is end of file for paramiko, so the login fails at
once, and :meth:`ProxyCommandSocket.exit_message` names the command, its
exit status and the last line it wrote to stderr.
"""

from __future__ import annotations

import collections
import logging
import shlex
import socket
import subprocess
import threading
from typing import IO, Deque, Optional

from paramiko.buffered_pipe import PipeTimeout

from .channel_buffer import ChunkBuffer
from .errors import ConnectionFailed

log = logging.getLogger(__name__)

# Bytes requested per read of the command's stdout and stderr.
READ_SIZE = 64 * 1024
# Lines of the command's stderr kept for messages; older ones are only logged.
STDERR_TAIL_LINES = 20
# Characters of one stderr line kept for a message or the log.
MAX_LINE_CHARS = 500
# Seconds to wait for the exit status and the last stderr lines of a command
# whose output ended. Both normally follow at once, because a command closes
# its output by exiting. A child that inherited its stderr can keep it open, though.
EXIT_WAIT = 5.0
# Seconds that close() waits for the command after SIGTERM before it kills it.
TERMINATE_WAIT = 2.0


class ProxyCommandSocket:
    """The socket-like end of a ProxyCommand process: bytes sent go to its stdin, bytes received come from its stdout.

    paramiko calls ``send``, ``recv``, ``settimeout`` and ``close`` from its
    transport thread. Two daemon threads read the command's stdout and
    stderr, so neither pipe can fill up and block the command.
    """

    def __init__(self, command: str) -> None:
        """Start ``command``, split into words as a POSIX shell would, without a shell.

        Raises ConnectionFailed naming the command when it is empty, has
        unbalanced quotes, or its program cannot be started.
        """
        self.command = command
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ConnectionFailed(f"cannot start ProxyCommand {command!r}: {exc}; check its quotes") from exc
        if not argv:
            raise ConnectionFailed("cannot start ProxyCommand '': the command is empty; set one or clear the field")
        try:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
            )
        except OSError as exc:
            raise ConnectionFailed(f"cannot start ProxyCommand {command!r}: {exc.strerror or exc}") from exc
        self._timeout: Optional[float] = None
        self._output = ChunkBuffer()
        self._output_ended = threading.Event()
        self._send_failed = False
        self._closed = False
        self._stderr_tail: Deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._threads = [
            threading.Thread(target=self._read_stdout, name=f"proxy-stdout {argv[0]}", daemon=True),
            threading.Thread(target=self._read_stderr, name=f"proxy-stderr {argv[0]}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.debug("started ProxyCommand %r (pid %d)", command, self._process.pid)

    # -- the socket interface paramiko uses ---------------------------------

    def settimeout(self, timeout: Optional[float]) -> None:
        """Set the seconds that ``recv`` waits for output (None: forever)."""
        self._timeout = timeout

    def recv(self, size: int) -> bytes:
        """Return up to ``size`` bytes of the command's output, or b"" once the output ended.

        Raises socket.timeout when nothing arrives within the timeout.
        """
        try:
            return self._output.read(size, self._timeout)
        except PipeTimeout:
            raise socket.timeout() from None

    def send(self, data: bytes) -> int:
        """Write ``data`` to the command's stdin and return the count written.

        Raises OSError (BrokenPipeError once the command has exited), which
        paramiko reports as end of file.
        """
        stdin = self._pipe(self._process.stdin)
        try:
            written = stdin.write(data)
        except (OSError, ValueError) as exc:
            self._send_failed = True
            if isinstance(exc, ValueError):
                raise BrokenPipeError(f"ProxyCommand {self.command!r} is closed") from exc
            raise
        return len(data) if written is None else written

    def close(self) -> None:
        """End the command: close its stdin, send SIGTERM, and kill it after TERMINATE_WAIT seconds."""
        if self._closed:
            return
        self._closed = True
        try:
            self._pipe(self._process.stdin).close()
        except OSError as exc:
            log.debug("closing the stdin of ProxyCommand %r failed: %s", self.command, exc)
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(TERMINATE_WAIT)
            except subprocess.TimeoutExpired:
                log.warning("ProxyCommand %r did not end within %.0f s of SIGTERM; killing it", self.command, TERMINATE_WAIT)
                self._process.kill()
                self._process.wait()
        self._output.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called; paramiko also reads the ``_closed`` attribute."""
        return self._closed

    # -- what the command did ------------------------------------------------

    def ended(self) -> bool:
        """Return whether the command closed its output, exited, or stopped reading its input."""
        return self._output_ended.is_set() or self._send_failed or self._process.poll() is not None

    def exit_message(self, wait: float = EXIT_WAIT) -> str:
        """Describe how the command ended, for a login that failed because it did.

        Waits up to ``wait`` seconds for the exit status and for the rest of
        its stderr. Names the command, the exit status (or that it still
        runs) and the last non-empty stderr line.
        """
        try:
            status: Optional[int] = self._process.wait(wait)
        except subprocess.TimeoutExpired:
            status = None
        self._threads[1].join(wait)

        if status is None:
            ending = "closed its output but is still running"
        elif status < 0:
            ending = f"was ended by signal {-status}"
        else:
            ending = f"exited with status {status}"
        lines = [line for line in self._stderr_tail if line.strip()]
        stderr_note = f": {lines[-1].strip()}" if lines else " and wrote nothing to stderr"
        return (
            f"ProxyCommand {self.command!r} {ending} before the SSH login finished{stderr_note}; "
            f"check that the command runs in a terminal and reaches the SSH server"
        )

    # -- reader threads --------------------------------------------------------

    def _read_stdout(self) -> None:
        stdout = self._pipe(self._process.stdout)
        try:
            while True:
                data = stdout.read(READ_SIZE)
                if not data:
                    break
                self._output.feed(data)
        except OSError as exc:
            log.debug("reading the output of ProxyCommand %r failed: %s", self.command, exc)
        finally:
            self._output_ended.set()
            self._output.close()
            stdout.close()

    def _read_stderr(self) -> None:
        stderr = self._pipe(self._process.stderr)
        pending = b""
        try:
            while True:
                data = stderr.read(READ_SIZE)
                if not data:
                    break
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    self._keep_stderr_line(line)
                # A line without a newline is cut at MAX_LINE_CHARS, so the buffer stays bounded.
                if len(pending) > MAX_LINE_CHARS * 4:
                    self._keep_stderr_line(pending)
                    pending = b""
        except OSError as exc:
            log.debug("reading the stderr of ProxyCommand %r failed: %s", self.command, exc)
        finally:
            if pending:
                self._keep_stderr_line(pending)
            stderr.close()

    def _keep_stderr_line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS]
        self._stderr_tail.append(line)
        log.debug("ProxyCommand stderr: %s", line)

    @staticmethod
    def _pipe(stream: Optional[IO[bytes]]) -> IO[bytes]:
        assert stream is not None  # Popen was given PIPE for all three streams
        return stream

