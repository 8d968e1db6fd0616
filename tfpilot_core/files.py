"""Private files: request data at rest is readable by its owner only.

The tfpilot home, working directories and the sandbox root are ``0700``; the database, saved
plans, state and logs are ``0600`` — whatever the process umask, because a shared machine's
default umask (022) would otherwise make request inputs, plans and Terraform state readable by
every local user. Terraform itself runs with umask 077 (see the executor) so the files it
writes (plans, state, lock files) are private too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: Directories holding request data.
DIR_MODE = 0o700
#: Files holding request data.
FILE_MODE = 0o600
#: The umask for processes that write request data (Terraform).
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed, and make ``path`` itself ``0700``.

    Parents that already exist are left alone (they may be shared, e.g. ``/tmp``); parents this
    call creates are private too.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        # Created concurrently: fine, its mode is set below all the same.
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        _chmod(directory, DIR_MODE)
    if path.is_dir() and path.stat().st_uid == os.getuid():
        _chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, and make it ``0600`` (before anything is written)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    os.close(fd)
    if path.stat().st_uid == os.getuid():
        _chmod(path, FILE_MODE)
    return path


def _chmod(path: Path, mode: int) -> None:
    # Not ours: the owner's permissions decide.
    with contextlib.suppress(PermissionError):
        os.chmod(path, mode)


def tree_fingerprint(directory: str, *, skip_hidden: bool = False) -> list[tuple[str, int, int]]:
    """``(relative path, size, mtime)`` of every file under ``directory``, in a stable order.

    Cheap (no file is read), and it changes when a file is added, removed, renamed or rewritten:
    the key of caches over directories (provider mirrors, catalog listings). ``skip_hidden``
    leaves out dot-directories (``.terraform``, ``.git``). A missing directory gives ``[]``.
    """
    found: list[tuple[str, int, int]] = []
    if not os.path.isdir(directory):
        return found
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not (skip_hidden and d.startswith(".")))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                stat = os.stat(path)
                relative = os.path.relpath(path, directory).replace(os.sep, "/")
                found.append((relative, stat.st_size, stat.st_mtime_ns))
    return found
