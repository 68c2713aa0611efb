"""Foreign files, their fingerprints, and commands killed with SIGKILL at a chosen rename."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

#: Run ``facefeedback`` with the file system's renames counted, and SIGKILL it at one of them.
#: ``commit K``: the K-th rename from a commit journal's own on (1: before the journal lands,
#: 2: journal in place, nothing moved yet, ...); ``name NAME``: the rename onto NAME;
#: ``rename K``: the K-th ``os.rename``.
KILLER = r"""
import os, shutil, signal, sys
mode, arg = sys.argv[1], sys.argv[2]
state = {"journal": False, "n": 0, "renames": 0}
def die():
    os.kill(os.getpid(), signal.SIGKILL)
def counted(real, is_rename=False):
    def call(*args, **kwargs):
        dst = os.path.basename(os.fsdecode(args[1])) if len(args) > 1 else ""
        if mode == "commit":
            state["journal"] = state["journal"] or dst == ".ff-commit.json"
            if state["journal"]:
                state["n"] += 1
                if state["n"] == int(arg):
                    die()
        elif mode == "name" and dst == arg:
            die()
        elif mode == "rename" and is_rename:
            state["renames"] += 1
            if state["renames"] == int(arg):
                die()
        return real(*args, **kwargs)
    return call
os.replace = counted(os.replace)
os.rename = counted(os.rename, is_rename=True)
shutil.rmtree = counted(shutil.rmtree)
from facefeedback.cli import main
sys.exit(main(sys.argv[3:]))
"""


def run_killed(mode: str, arg, argv: list[str], timeout: float = 300) -> tuple[str, str]:
    """Run ``facefeedback argv`` in a child that SIGKILLs itself at the chosen rename; then kill
    what it left running (a pool's workers), as a power cut would. Returns its stdout and stderr."""
    proc = subprocess.Popen([sys.executable, "-c", KILLER, mode, str(arg), *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"not killed (exit {proc.returncode}): {stderr[-2000:]}"
    return stdout, stderr


def plant(*paths: Path) -> dict[Path, bytes]:
    """Put a file someone else owns at each path; returns what they hold, to compare later."""
    snapshot = {}
    for i, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"{path.name}: a participant's own notes #{i}\n".encode() + bytes(range(256))
        path.write_bytes(data)
        os.utime(path, (1_000_000_000, 1_000_000_000))
        snapshot[path] = data
    return snapshot


def assert_intact(snapshot: dict[Path, bytes]) -> None:
    """Every planted file is where it was, byte for byte, untouched."""
    for path, data in snapshot.items():
        assert path.is_file(), f"{path} is gone"
        assert path.read_bytes() == data, f"{path} was changed"
        assert path.stat().st_mtime == 1_000_000_000, f"{path} was rewritten"


def staging_left(root: Path) -> list[Path]:
    """Staging files and folders left under ``root``."""
    return [p for p in root.rglob(".ff-*") if ".tmp" in p.name]
