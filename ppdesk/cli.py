"""The ``ppdesk`` command line.

``ppdesk`` alone opens the GUI; ``ppdesk --demo`` or ``ppdesk --workspace DIR``
opens it on that workspace. Subcommands run headless::

    ppdesk scan TARGET [--json]
    ppdesk pp|lm|vg|dg|dc|do TARGET (--config NAME | --family NAME) [--dest DIR] ...
    ppdesk demo-workspace DIR
    ppdesk profile add [NAME] --ssh COMMAND | list | remove NAME

Exit status: 0 when nothing failed, 1 when a tool or the scan failed, 2 for
usage errors (an unknown family or config included), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from ppdesk import __version__
from ppdesk.remote.errors import TransportError
from ppdesk.settings import DEFAULT_DESTINATION_NAME

if TYPE_CHECKING:
    from ppdesk.remote.transport import Transport
    from ppdesk.tools.base import ToolOptions, ToolResult
    from ppdesk.tools.workspace import WorkspaceScan

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_DEST = DEFAULT_DESTINATION_NAME
DEFAULT_JOBS = 4
DEFAULT_DATASET_LIMIT = 100
TOOL_COMMANDS = {
    "pp": "run all five tools in order: lm, vg, dg, dc, do",
    "lm": "copy checkpoint weights into ComfyUI/models/loras on the pod",
    "vg": "build the validation grid on the pod and download it; step-0 (base model) samples are left out "
          "unless --include-base is given",
    "dg": "build the dataset grid on the pod and download it",
    "dc": "download the config folder",
    "do": "download the output folder with the newest checkpoint's weights only",
}
# The options each tool command takes besides the target, the selection and --json.
TOOL_OPTIONS = {
    "pp": ("dest", "jobs", "include_base", "keep_composite", "limit"),
    "lm": (),
    "vg": ("dest", "jobs", "include_base", "keep_composite"),
    "dg": ("dest", "jobs", "limit"),
    "dc": ("dest", "jobs"),
    "do": ("dest", "jobs"),
}
# Values of the options a command does not take, so that _run_tools reads every attribute.
TOOL_OPTION_DEFAULTS = {
    "dest": DEFAULT_DEST,
    "jobs": DEFAULT_JOBS,
    "include_base": False,
    "keep_composite": False,
    "limit": DEFAULT_DATASET_LIMIT,
}


# The start of core/scan.py's error for a workspace without SimpleTuner/config.
CONFIG_FOLDER_MISSING = "config folder not found:"


class UsageError(Exception):
    """A command-line mistake the user can fix; the message states the fix. Exit status 2."""


def add_target_arguments(parser: argparse.ArgumentParser, required: bool = False) -> argparse._MutuallyExclusiveGroup:
    """Add the workspace target options (``--workspace DIR`` or ``--demo``) and return their group.

    Transports added later (SSH profiles) extend this group, and
    :func:`make_transport` reads the same attributes.
    """
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--workspace", metavar="DIR", help="a workspace folder on this machine (contains SimpleTuner/)")
    group.add_argument("--demo", action="store_true", help="the generated demo workspace in the user cache folder")
    from ppdesk.cli_profile import add_ssh_arguments

    add_ssh_arguments(parser, group)
    return group


def has_target(args: argparse.Namespace) -> bool:
    """Return True when the arguments name a workspace."""
    from ppdesk.cli_profile import has_ssh_target

    return bool(getattr(args, "workspace", None) or getattr(args, "demo", False) or has_ssh_target(args))


def make_transport(args: argparse.Namespace) -> "Transport":
    """Return the transport for the target the arguments name.

    Raises UsageError when no target is given or the workspace folder does
    not exist. ``--demo`` builds the demo workspace first when the cached
    one is missing or from another ppdesk version.
    """
    from ppdesk.cli_profile import make_ssh_transport
    from ppdesk.remote.local import LocalTransport

    try:
        ssh_transport = make_ssh_transport(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if ssh_transport is not None:
        return ssh_transport

    if getattr(args, "demo", False):
        from ppdesk import settings
        from ppdesk.demo import ensure_demo_workspace

        root = ensure_demo_workspace(settings.cache_dir())
        log.info("using the demo workspace %s", root)
        return LocalTransport.for_root(root)

    workspace = getattr(args, "workspace", None)
    if workspace:
        path = Path(workspace).expanduser()
        if path.exists() and not path.is_dir():
            raise UsageError(f"workspace is a file, not a folder: {path}; pass the folder that contains SimpleTuner/")
        if not path.is_dir():
            raise UsageError(f"workspace folder not found: {path}; pass the folder that contains SimpleTuner/")
        return LocalTransport.for_root(path.resolve())

    raise UsageError("no workspace given; pass --workspace DIR, --demo, --ssh COMMAND or --profile NAME")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}; expected a whole number of 1 or more") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {value}; expected 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``ppdesk`` command."""
    parser = argparse.ArgumentParser(
        prog="ppdesk",
        description="Post-process SimpleTuner LoRA training runs. Without a command, the GUI opens.",
    )
    parser.add_argument("--version", action="version", version=f"ppdesk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen on a temporary demo workspace, build a grid, view it, and exit (0 when it works)",
    )
    add_target_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan_help = "list the workspace's configs, checkpoints and samples"
    scan = commands.add_parser("scan", help=scan_help, description=f"{scan_help[0].upper()}{scan_help[1:]}.")
    _add_common(scan)
    scan.add_argument("--json", action="store_true", help="print one JSON list of configs on stdout")

    for name, help_text in TOOL_COMMANDS.items():
        tool = commands.add_parser(name, help=help_text, description=f"{help_text[0].upper()}{help_text[1:]}.")
        _add_common(tool)
        selection = tool.add_mutually_exclusive_group(required=True)
        selection.add_argument("--config", metavar="NAME", help="one config, e.g. sofia_001_lr1e-4")
        selection.add_argument("--family", metavar="NAME", help="every config of a family, e.g. sofia")
        tool.add_argument("--json", action="store_true", help="print one JSON list of tool results on stdout")
        _add_tool_options(tool, TOOL_OPTIONS[name])

    from ppdesk.cli_profile import add_profile_command

    add_profile_command(commands)

    demo = commands.add_parser("demo-workspace", help="write the demo workspace into an empty folder")
    demo.add_argument("dir", metavar="DIR", help="a new or empty folder")
    demo.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages to stderr")
    return parser


def _add_tool_options(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """Add the options in ``names`` to a tool command; the others get their defaults silently."""
    if "dest" in names:
        parser.add_argument("--dest", metavar="DIR", default=DEFAULT_DEST,
                            help=f"local destination folder (default: ./{DEFAULT_DEST})")
    if "jobs" in names:
        parser.add_argument("--jobs", metavar="N", type=_positive_int, default=DEFAULT_JOBS,
                            help=f"number of parallel file downloads (default: {DEFAULT_JOBS})")
    if "include_base" in names:
        parser.add_argument("--include-base", action="store_true",
                            help="keep the step-0 (base model) samples in the validation grid and add a row of "
                                 "the base model's own images; without it step 0 is left out")
    if "keep_composite" in names:
        parser.add_argument("--keep-composite", action="store_true",
                            help="keep SimpleTuner's base|step composites whole in the validation grid")
    if "limit" in names:
        parser.add_argument("--limit", metavar="N", type=_positive_int, default=DEFAULT_DATASET_LIMIT,
                            help=f"maximum number of images in the dataset grid (default: {DEFAULT_DATASET_LIMIT})")
    parser.set_defaults(**{key: value for key, value in TOOL_OPTION_DEFAULTS.items() if key not in names})


def _add_common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a subcommand's unset -v from overwriting a -v given before it.
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages to stderr")
    add_target_arguments(parser, required=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ppdesk.settings import setup_logging

    setup_logging(verbose=args.verbose)
    if args.self_test:
        from ppdesk.selftest import run_self_test

        return run_self_test()
    try:
        if args.command is None:
            return _open_gui(args)
        if args.command == "demo-workspace":
            return _demo_workspace(Path(args.dir))
        if args.command == "scan":
            return _scan(args)
        if args.command == "profile":
            from ppdesk.cli_profile import run_profile_command

            try:
                return run_profile_command(args)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return _run_tools(args)
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"ppdesk: error: {exc}\n")
    except TransportError as exc:
        # Connection failures (refused, host key, login) raised while opening the target.
        from ppdesk.cli_profile import connection_hint

        log.info("stopped: %s", exc)
        message = str(exc)
        hint = connection_hint(exc, args)
        if hint:
            message += f"; {hint}"
        sys.stderr.write(f"ppdesk: {message}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Ctrl-C before the tools started (while connecting or scanning).
        log.warning("interrupted before any tool ran")
        sys.stderr.write("ppdesk: interrupted before any tool ran\n")
        return EXIT_INTERRUPTED
    return EXIT_USAGE  # not reached: parser.exit raises SystemExit


def _open_gui(args: argparse.Namespace) -> int:
    if _no_display():
        # Qt aborts the process without a readable message in this case.
        sys.stderr.write(
            "ppdesk: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot open; "
            "run a subcommand such as 'ppdesk pp --demo --family sofia', or see 'ppdesk --help'\n"
        )
        return EXIT_FAILED
    transport = make_transport(args) if has_target(args) else None
    try:
        from ppdesk.gui.app import run_gui
    except ImportError as exc:
        log.error("the GUI cannot start: %s", exc)
        sys.stderr.write(f"ppdesk: the GUI cannot start ({exc}); use a subcommand such as 'ppdesk scan --demo'\n")
        return EXIT_FAILED
    return run_gui(transport)


def _no_display() -> bool:
    """Return True on Linux and BSD when no X11 or Wayland display and no Qt platform is set."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    return not any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _demo_workspace(target: Path) -> int:
    from ppdesk.demo import build_demo_workspace

    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; pass a new or empty folder for the demo workspace")
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} is not an empty folder; pass a new or empty folder for the demo workspace")
    try:
        root = build_demo_workspace(target)
    except OSError as exc:
        log.error("demo workspace not written to %s: %s", target, exc)
        sys.stderr.write(f"ppdesk: cannot write the demo workspace to {target}: {exc.strerror or exc}\n")
        return EXIT_FAILED
    sys.stdout.write(f"demo workspace written to {root.resolve()}\n")
    sys.stdout.write(f"try: ppdesk pp --workspace {root} --family sofia --dest ppdesk-out\n")
    return EXIT_OK


def _scan(args: argparse.Namespace) -> int:
    with make_transport(args) as transport:
        scan = _scan_or_report(transport)
        if scan is None:
            return EXIT_FAILED

    _write_scan_errors(scan.errors, args)
    if args.json:
        sys.stdout.write(json.dumps([entry.to_dict() for entry in scan.configs], indent=2) + "\n")
    elif scan.configs or not scan.errors:
        from rich.console import Console

        from ppdesk.cli_progress import scan_table

        Console(width=_table_width()).print(scan_table(scan))
    return EXIT_FAILED if scan.errors else EXIT_OK


def _run_tools(args: argparse.Namespace) -> int:
    from ppdesk.cancel import CancelToken
    from ppdesk.tools.base import Status, ToolContext, ToolOptions
    from ppdesk.tools.postprocess import PostProcess

    keys = None if args.command == "pp" else [args.command]
    dest = Path(args.dest).expanduser().resolve()
    if args.command != "lm":
        # Checked before any work on the pod, so a typo does not cost a grid build,
        # but created only once the selection is known to be valid.
        _check_destination(dest)
    options = ToolOptions(
        jobs=args.jobs, include_base=args.include_base, keep_composite=args.keep_composite, dataset_limit=args.limit
    )
    with make_transport(args) as transport:
        scan = _scan_or_report(transport)
        if scan is None:
            return EXIT_FAILED
        _write_scan_errors(scan.errors, args)
        try:
            configs = scan.select(args.family, args.config)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.command != "lm":
            _create_destination(dest)

        ctx = ToolContext(transport=transport, dest=dest, options=options, cancel=CancelToken())
        results = _run_with_interrupt(PostProcess(keys), ctx, configs, show_progress=not args.json)

    _add_option_hints(results, options)
    if args.json:
        sys.stdout.write(json.dumps([result.to_dict() for result in results], indent=2) + "\n")
    else:
        from rich.console import Console

        from ppdesk.cli_progress import results_table

        Console(width=_table_width()).print(results_table(results))
    if ctx.cancel.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(result.status is Status.FAILED for result in results) else EXIT_OK


def _scan_or_report(transport: "Transport") -> Optional["WorkspaceScan"]:
    """Scan the workspace behind ``transport``, or write why the scan failed to stderr and return None."""
    from ppdesk.tools.workspace import scan_workspace

    try:
        return scan_workspace(transport)
    except (TransportError, ValueError) as exc:
        sys.stderr.write(f"ppdesk: scan of {transport.describe()} failed: {exc}\n")
        return None


def _write_scan_errors(errors: Sequence[str], args: argparse.Namespace) -> None:
    """Print workspace-level scan errors on stderr, in the command line's option names."""
    for error in errors:
        sys.stderr.write(f"ppdesk: {scan_error_text(error, args)}\n")


def scan_error_text(error: str, args: argparse.Namespace) -> str:
    """Return a scan error with the option that fixes it, for a missing config folder.

    The pod-side scan names no option because the GUI shares its messages;
    here the fix is ``--workspace`` on this machine or ``--remote-root`` on a pod.
    """
    from ppdesk.cli_profile import has_ssh_target

    if not error.startswith(CONFIG_FOLDER_MISSING):
        return error
    problem = error.split(";", 1)[0]
    if has_ssh_target(args):
        return f"{problem}; pass the pod folder that contains SimpleTuner/ with --remote-root DIR"
    return f"{problem}; pass the folder that contains SimpleTuner/ with --workspace DIR"


def _add_option_hints(results: List["ToolResult"], options: "ToolOptions") -> None:
    """Append the option that changes a result when the tool's message leaves it unnamed."""
    for result in results:
        if result.tool == "vg" and result.details.get("base_samples_left_out") and not options.include_base:
            result.message += "; --include-base adds them"


def _check_destination(dest: Path) -> None:
    """Check, without creating anything, that ``dest`` can become a writable folder; raise UsageError if not."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination is a file, not a folder: {dest}; pass a folder with --dest")
    existing = dest if dest.exists() else next((parent for parent in dest.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"cannot create the destination {dest}, because {existing} is a file; pass another folder with --dest")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"destination folder {existing} is not writable; pass another folder with --dest")


def _create_destination(dest: Path) -> None:
    """Create the destination folder and prove it is writable; raise UsageError if not."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest):
            pass
    except OSError as exc:
        raise UsageError(
            f"destination folder {dest} is not writable ({exc.strerror or exc}); pass another folder with --dest"
        ) from None


def _table_width() -> "int | None":
    # rich assumes 80 columns when stdout is not a terminal, which folds every cell.
    return None if sys.stdout.isatty() else 200


def _run_with_interrupt(orchestrator, ctx, configs, show_progress: bool) -> List["ToolResult"]:
    """Run the orchestrator in a worker thread so that Ctrl-C can set the cancel token.

    After Ctrl-C (SIGINT) the running tool stops at its next check and the
    rest are reported as cancelled; a second Ctrl-C is not special-cased.
    Main thread only, because it installs a SIGINT handler for the run and
    restores the previous one afterwards.
    """
    from ppdesk.cli_progress import ProgressBar

    results: List["ToolResult"] = []
    finished = threading.Event()
    bar = ProgressBar() if show_progress else None
    if bar is not None:
        ctx.progress = bar.update

    def work() -> None:
        on_start = bar.start_tool if bar is not None else None
        try:
            orchestrator.run(ctx, configs, on_result=results.append, on_start=on_start)
        finally:
            finished.set()

    def on_interrupt(_signum: int, _frame: Any) -> None:
        log.warning("interrupted; cancelling the running tool")
        ctx.cancel.cancel()

    worker = threading.Thread(target=work, name="ppdesk-tools")
    # A handler of its own instead of KeyboardInterrupt: it cannot fire
    # outside a try block, and it also works when the process started with
    # SIGINT ignored (a background job of a non-interactive shell).
    previous = signal.signal(signal.SIGINT, on_interrupt)
    if bar is not None:
        bar.__enter__()
    try:
        worker.start()
        while not finished.is_set():
            time.sleep(0.2)
        worker.join()
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.__exit__(None, None, None)
    return results
