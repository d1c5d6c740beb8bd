"""Entry script of the PyInstaller bundle (see build.spec).

A frozen app has no Python interpreter to start, and ``sys.executable`` is
the ppdesk program itself. LocalTransport runs the agent as
``sys.executable -m ppdesk.core``, so this script accepts ``-m ppdesk.core``
and ``-m ppdesk.core.agent`` and runs the agent in this process.
Every other command line goes to the normal command-line front end.
"""

from __future__ import annotations

import sys

AGENT_MODULES = ("ppdesk.core", "ppdesk.core.agent")


def main() -> int:
    """Run the agent for ``-m ppdesk.core``, else the ppdesk command line."""
    if len(sys.argv) >= 3 and sys.argv[1] == "-m" and sys.argv[2] in AGENT_MODULES:
        from ppdesk.core.agent import main as agent_main

        sys.argv = [sys.argv[0], *sys.argv[3:]]
        return agent_main()

    from ppdesk.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
