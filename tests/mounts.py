"""Real mounts, for the save-safety cases that only a mount can build.

Root is not stopped by file permissions, so as root (which is how CI runs) a read-only
destination, a destination that cannot be replaced and a full disk are made with real mounts:
a read-only bind mount, a file bind-mounted onto the destination (``rename`` onto a mount point
fails with EBUSY) and a small tmpfs. Every context manager unmounts in ``finally`` (lazily if
something still holds the mount open), so a test never leaves a mount behind.
"""

import contextlib
import os
import stat
import subprocess

import pytest


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def require_root():
    """Skip where mounting is impossible: outside CI, as an ordinary user (CI runs as root)."""
    if not is_root():
        pytest.skip("mounting needs root (CI runs as root, where this test runs)")


def _run(*command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")


def _unmount(target):
    try:
        _run("umount", target)
    except RuntimeError:
        _run("umount", "--lazy", target)


@contextlib.contextmanager
def mounted(target, *arguments):
    """``mount ARGUMENTS TARGET`` for the duration of the block."""
    _run("mount", *arguments, os.fspath(target))
    try:
        yield target
    finally:
        _unmount(os.fspath(target))


@contextlib.contextmanager
def bind(source, target, read_only=False):
    """``source`` (a file or folder) bind-mounted onto ``target``, read-only if asked."""
    with mounted(target, "--bind", os.fspath(source)):
        if read_only:
            _run("mount", "-o", "remount,bind,ro", os.fspath(target))
        yield target


def tmpfs(folder, size):
    """A tmpfs of ``size`` (``"64k"``) mounted on ``folder``: a disk that fills up for real."""
    return mounted(folder, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs")


@contextlib.contextmanager
def read_only(path):
    """``path`` (a file or folder) read-only to this user: a read-only bind mount onto itself as root,
    whom permissions do not stop; as anyone else, the write permission bits removed."""
    if is_root():
        with bind(path, path, read_only=True):
            yield path
        return
    mode = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield path
    finally:
        os.chmod(path, mode)
