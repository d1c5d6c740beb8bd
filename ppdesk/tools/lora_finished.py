"""The files a LoRA mover run finished, as the agent's progress lines tell them.

After a cancel the agent's result never arrives, so the cancelled result
is built from these lines. The agent's line for each finished file carries
its destination name and outcome (copied, skipped, conflict or failed) in
the ``finished`` field. That field reaches this module as
ProgressEvent.finished_name and finished_outcome.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from ppdesk.tools.base import ProgressEvent
from ppdesk.tools.common import name_items, plural


class FinishedFiles:
    """The files a mover run finished, by outcome, in the order the agent finished them."""

    def __init__(self) -> None:
        self._names: Dict[str, List[str]] = {}

    def watch(self, forward: Callable[[ProgressEvent], None]) -> Callable[[ProgressEvent], None]:
        """Return a progress callback that records finished files, then calls ``forward``."""

        def record(event: ProgressEvent) -> None:
            if event.finished_outcome and event.finished_name:
                self._names.setdefault(event.finished_outcome, []).append(event.finished_name)
            forward(event)

        return record

    def names(self, outcome: str) -> List[str]:
        """Return the file names with ``outcome``, in the order the agent finished them."""
        return list(self._names.get(outcome, []))

    def paths(self, outcome: str, folder: Optional[str]) -> List[str]:
        """Return the files with ``outcome`` as pod paths in ``folder``, or as bare names without one."""
        names = self.names(outcome)
        if not folder:
            return names
        separator = "\\" if "\\" in folder and "/" not in folder else "/"
        return [folder.rstrip("/\\") + separator + name for name in names]

    def summary(self, removed: List[str], folder: Optional[str]) -> str:
        """Return the message of a cancelled run: what was finished, the ``removed`` temporary files, what to do.

        It does not start with "cancelled" because the result's status already shows that.
        """
        copied = self.names("copied")
        parts = [f"{plural(len(copied), 'file')} copied before the cancel{_named(copied)}"]
        if self.names("skipped"):
            parts.append(f"{len(self.names('skipped'))} already present")
        if self.names("conflict"):
            conflicts = self.names("conflict")
            parts.append(f"{plural(len(conflicts), 'conflict')} left unchanged{_named(conflicts)}")
        if self.names("failed"):
            parts.append(f"{len(self.names('failed'))} failed{_named(self.names('failed'))}")
        message = ", ".join(parts)
        if removed:
            message += f"; removed {plural(len(removed), 'leftover temporary file')}{_named(removed)}"
        return message + "; run the mover again to copy the rest" + (f" into {folder}" if folder else "")


def _named(names: List[str]) -> str:
    """Return " (a, b and 3 more)" for a message, or "" without names."""
    return f" ({name_items(names)})" if names else ""
