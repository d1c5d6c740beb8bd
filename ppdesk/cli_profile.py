"""SSH targets on the command line: ``--ssh``, ``--profile`` and ``ppdesk profile``.

Terminal prompts live here too. An unknown host key is shown and asked
about (y/N) on a terminal; without one it is rejected unless
``--accept-new-host-key`` is given. A changed host key is always rejected.
An encrypted key's passphrase is asked with getpass on a terminal, or read
from the ``PPDESK_KEY_PASSPHRASE`` environment variable when set.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from ppdesk.remote.hostkeys import HostKeyInfo
    from ppdesk.remote.profiles import Profile
    from ppdesk.remote.ssh import SshTransport
    from ppdesk.remote.ssh_auth import SshPrompts

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "PPDESK_KEY_PASSPHRASE"
_SSH_EXAMPLE = 'ssh root@HOST -p PORT -i ~/.ssh/id_ed25519'


def add_ssh_arguments(parser: argparse.ArgumentParser, group: argparse._MutuallyExclusiveGroup) -> None:
    """Add ``--ssh`` and ``--profile`` to the target ``group`` and the SSH options to ``parser``.

    Defaults are SUPPRESS so that a subcommand's unset option does not
    overwrite the same option given before the subcommand.
    """
    group.add_argument("--ssh", metavar="COMMAND", default=argparse.SUPPRESS,
                       help=f"a pod, given as the ssh command its provider shows, e.g. \"{_SSH_EXAMPLE}\"; "
                            f"an encrypted key's passphrase is asked on the terminal or read from {PASSPHRASE_ENV}")
    group.add_argument("--profile", metavar="NAME", default=argparse.SUPPRESS,
                       help="a pod saved with 'ppdesk profile add'")
    parser.add_argument("--remote-root", metavar="DIR", default=argparse.SUPPRESS,
                        help="the workspace folder on the pod (default: /workspace, or the profile's)")
    parser.add_argument("--python", metavar="PATH", default=argparse.SUPPRESS,
                        help="the Python interpreter on the pod (default: SimpleTuner's .venv, else python3)")
    parser.add_argument("--accept-new-host-key", action="store_true", default=argparse.SUPPRESS,
                        help="accept and save an unknown host key without asking (a changed key is still rejected)")


def has_ssh_target(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "ssh", None) or getattr(args, "profile", None))


def make_ssh_transport(args: argparse.Namespace) -> Optional["SshTransport"]:
    """Return an SshTransport for ``--ssh`` or ``--profile``, or None when neither is given.

    Raises ValueError with a message for the user when the command or the
    profile name is invalid, or when the key file is not a readable private
    key (KeyFileError, checked before connecting).
    """
    from ppdesk.remote.ssh import SshTransport
    from ppdesk.remote.ssh_auth import check_key_file

    profile = _target_profile(args)
    if profile is None:
        return None
    if profile.auth == "key":
        check_key_file(profile.key_file)
    return SshTransport(profile, prompts=terminal_prompts(bool(getattr(args, "accept_new_host_key", False))))


def _target_profile(args: argparse.Namespace, report_ignored: bool = True) -> Optional["Profile"]:
    from ppdesk.remote.profiles import Profile, ProfileStore

    command = getattr(args, "ssh", None)
    name = getattr(args, "profile", None)
    if command:
        profile = Profile(name="command-line", **parse_ssh_fields(command, report_ignored))
    elif name:
        try:
            profile = ProfileStore().get(name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    else:
        return None
    overrides = _overrides(args)
    for field_name, value in overrides.items():
        setattr(profile, field_name, value)
    profile.validate()
    return profile


def parse_ssh_fields(command: str, report_ignored: bool = True) -> Dict[str, Any]:
    """Parse an ``--ssh`` command into Profile fields; name the ignored options on stderr if ``report_ignored``.

    Raises ValueError as :func:`parse_ssh_command` does.
    """
    from ppdesk.remote.sshcommand import parse_ssh_command

    ignored: List[str] = []
    fields = parse_ssh_command(command, ignored)
    if ignored and report_ignored:
        sys.stderr.write(
            f"ppdesk: ignored ssh options: {', '.join(ignored)}; ppdesk takes only the host, port, user and "
            f"key file from --ssh, and always checks host keys\n"
        )
    return fields


def connection_hint(error: Exception, args: argparse.Namespace) -> str:
    """Return what to try next after a failed SSH login, for the command line; "" when none applies.

    The remote layer's messages are shared with the GUI, so they name no
    option or environment variable. The hint adds them, and the port and
    login method of the target that ``args`` names.
    """
    text = str(error)
    if text.startswith("key needs a passphrase"):
        return f"run ppdesk in a terminal to be asked for it, or set {PASSPHRASE_ENV}"
    if text.startswith("wrong passphrase") and os.environ.get(PASSPHRASE_ENV):
        return f"the passphrase came from {PASSPHRASE_ENV}; check its value"
    if not text.startswith("authentication rejected"):
        return ""
    try:
        profile = _target_profile(args, report_ignored=False)
    except ValueError:
        return ""
    if profile is None:
        return ""
    return _login_hint(profile)


def _login_hint(profile: "Profile") -> str:
    where = f"port {profile.port}"
    if profile.auth == "key":
        return (
            f"tried {where} with key file {profile.key_file}; check that its public key ({profile.key_file}.pub) "
            f"is in ~/.ssh/authorized_keys of user {profile.user!r} on the pod and that {profile.user!r} is the right user"
        )
    if profile.auth == "agent":
        return (
            f"tried {where} with the SSH agent's keys and the default key files in ~/.ssh (no -i key file given); "
            f"check that one of them is in "
            f"~/.ssh/authorized_keys of user {profile.user!r} on the pod, or pass the key file with -i in --ssh"
        )
    return f"tried {where} with a password; check the password and that {profile.user!r} is the right user"


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    if getattr(args, "remote_root", None):
        values["root"] = args.remote_root
    if getattr(args, "python", None):
        values["python"] = args.python
    return values


def terminal_prompts(accept_new_host_key: bool) -> "SshPrompts":
    """Return prompts that ask on the terminal, or answer "no" when stdin is not one."""
    from ppdesk.remote.ssh_auth import SshPrompts

    interactive = sys.stdin.isatty()

    def confirm_host_key(info: "HostKeyInfo") -> bool:
        sys.stderr.write(
            f"The host key of {info.host}:{info.port} is not known yet.\n"
            f"  {info.key_type} fingerprint: {info.fingerprint}\n"
        )
        if accept_new_host_key:
            sys.stderr.write(f"Accepted by --accept-new-host-key; saved to {info.saved_to}\n")
            return True
        if not interactive:
            sys.stderr.write("Not accepted: no terminal to ask on; pass --accept-new-host-key to accept it.\n")
            return False
        sys.stderr.write(f"Compare it with the fingerprint your provider shows. Accept and save to {info.saved_to}? [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        return answer in ("y", "yes")

    def ask_passphrase(path: str) -> Optional[str]:
        from_env = os.environ.get(PASSPHRASE_ENV)
        if from_env:
            return from_env
        if not interactive:
            return None
        return getpass.getpass(f"Passphrase for {path}: ") or None

    def ask_password(user: str, host: str) -> Optional[str]:
        if not interactive:
            return None
        return getpass.getpass(f"Password for {user}@{host}: ") or None

    return SshPrompts(ask_passphrase=ask_passphrase, ask_password=ask_password, confirm_host_key=confirm_host_key)


def add_profile_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``ppdesk profile add|list|remove``."""
    profile = commands.add_parser("profile", help="save, list and remove pod connection profiles",
                                  description="Manage saved pods. Profiles store no password or passphrase.")
    actions = profile.add_subparsers(dest="profile_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="save a pod under a name")
    add.add_argument("name", metavar="NAME", nargs="?",
                     help="the profile name: letters, digits, spaces and . _ - @ ( ) (default: made from the "
                          "command, e.g. 'root@203.0.113.7 port 22101')")
    add.add_argument("--ssh", metavar="COMMAND", required=True, help=f"the pod's ssh command, e.g. \"{_SSH_EXAMPLE}\"")
    add.add_argument("--remote-root", metavar="DIR", help="the workspace folder on the pod (default: /workspace)")
    add.add_argument("--python", metavar="PATH", help="the Python interpreter on the pod")
    add.add_argument("--loras-dir", metavar="DIR", help="the LoRA folder on the pod (default: <root>/ComfyUI/models/loras)")
    add.add_argument("--dest", metavar="DIR", help="the default local destination folder for downloads")
    add.add_argument("--replace", action="store_true", help="overwrite a profile of the same name")

    actions.add_parser("list", help="show the saved profiles")

    remove = actions.add_parser("remove", help="delete a saved profile")
    remove.add_argument("name", metavar="NAME")


def run_profile_command(args: argparse.Namespace) -> int:
    """Run ``ppdesk profile ACTION``; return the exit status.

    Raises ValueError for usage mistakes, including a key file that is not a
    readable private key. ``add`` without NAME names the profile after the
    command's address, numbered when that name is taken.
    """
    from ppdesk.remote.profiles import Profile, ProfileStore, check_profile_name, suggest_profile_name
    from ppdesk.remote.ssh_auth import check_key_file

    store = ProfileStore()
    if args.profile_action == "list":
        profiles = store.load()
        if not profiles:
            sys.stderr.write(f"no profiles; add one with: ppdesk profile add [NAME] --ssh \"{_SSH_EXAMPLE}\"\n")
        for profile in profiles:
            key = f" key={profile.key_file}" if profile.key_file else ""
            sys.stdout.write(f"{profile.name}\t{profile.address}\tauth={profile.auth}{key}\troot={profile.root}\n")
        return 0
    if args.profile_action == "remove":
        try:
            store.remove(args.name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        sys.stdout.write(f"removed profile {args.name}\n")
        return 0

    fields = parse_ssh_fields(args.ssh)
    if fields["auth"] == "key":
        check_key_file(fields["key_file"])
    stored_names = [existing.name for existing in store.load()]
    name = args.name
    if name is None:
        avoid = () if args.replace else stored_names
        name = suggest_profile_name(fields["user"], fields["host"], fields["port"], avoid)
    check_profile_name(name)
    if not args.replace and name in stored_names:
        raise ValueError(
            f"a profile named {name!r} exists already; pass --replace to overwrite it, "
            f"or choose another name (see: ppdesk profile list)"
        )
    profile = Profile(
        name=name,
        root=args.remote_root or "/workspace",
        python=args.python,
        loras_dir=args.loras_dir,
        destination=args.dest,
        **fields,
    )
    store.save(profile, replace=args.replace)
    sys.stdout.write(f"saved profile {shlex.quote(profile.name)} ({profile.address}) to {store.path}\n")
    return 0
