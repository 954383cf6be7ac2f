"""Putting a finished file where the user's file should be, as native torchaudio leaves it.

Native torchaudio (FFmpeg, libsndfile) opens the destination and writes into it: through a
symlink into its target, keeping an existing file's mode, owner, extended attributes and hard
links, and leaving a half-written file behind when it fails. ``place`` writes a temporary file
beside the real destination instead and puts it in place only once it is finished, so a failed
or interrupted save never leaves a half-written song. What native keeps is kept: the symlink,
the mode, the owner and group (where permitted), the extended attributes. A hard link cannot
survive the replace: the destination's name gets the new song, its other names keep the old one.

Where the destination cannot be replaced (Windows: another process holds it open; POSIX: it is
a mount point) the finished bytes are written over it in place, as native would. Where that
fails too, the finished file stays beside the destination and ``FinishedFileKept`` says where.
A device or a pipe (``/dev/null``) is written into directly: replacing it would be a disaster.
A process killed outright cannot clean up: its temporary is a hidden file whose name ends with
``TEMPORARY_MARK``.
"""

import errno
import os
import secrets
import shutil
import stat
import time

# Every temporary's name ends with this, so that one left by a killed process is recognisable.
TEMPORARY_MARK = ".acestep-winpatch"
# A temporary name this long fits every filesystem songs are saved to (eCryptfs, with the shortest
# common limit, takes 143 bytes); a longer destination name gets a temporary no longer than itself.
SHORT_ENOUGH = 64
# Windows without long paths enabled counts the whole path, with its terminating NUL, against this.
PATH_LIMIT = 260 if os.name == "nt" else None
# Linux's limit on symlinks followed in one lookup, after which it reports ELOOP.
MAX_SYMLINKS = 40
# Windows refuses to replace a file another process holds open without FILE_SHARE_DELETE with
# ERROR_ACCESS_DENIED (5) or ERROR_SHARING_VIOLATION (32). A scanner lets go within moments, a
# media player never: a short bounded retry, then the destination is written in place.
HELD_OPEN_WINERRORS = (5, 32)
REPLACE_RETRY_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2)
COPY_CHUNK = 1 << 20
NAME_ATTEMPTS = 100


class FinishedFileKept(OSError):
    """The destination could be neither replaced nor written over: the finished file is kept beside it.

    ``filename`` is the destination, ``filename2`` the kept file; the message names both.
    """

    def __str__(self):
        return self.strerror


def place(destination, write):
    """Save a new file at ``destination`` (a path): ``write(path)`` writes the finished file to ``path``.

    Raises what the path itself is wrong for (a missing folder, a directory, a read-only file, a
    symlink loop) before anything is written. If ``write`` fails or is interrupted, its temporary
    is removed and an existing destination stays byte-identical. A device or a pipe is written
    directly, as native writes it.
    """
    destination = os.fsdecode(os.fspath(destination))
    real = _resolve(destination)
    _check(real)
    if os.path.exists(real) and not os.path.isfile(real):
        write(real)  # a device or a pipe (/dev/null, NUL): native writes into it, and it must never be replaced
        return
    finished = _create_temporary(real)
    try:
        write(finished)
        _adopt_metadata(finished, real)
    except BaseException:
        _discard(finished)
        raise
    _move_into_place(finished, real, destination)


def _resolve(destination):
    """The file a save to ``destination`` writes: the final target of a symlink, followed as the OS
    follows it (a dangling one names the file to create). The folders are left as spelled: a
    folder link resolves to the same folder anyway, and spelling it out could pass MAX_PATH."""
    real = destination
    for _ in range(MAX_SYMLINKS):
        if not os.path.islink(real):
            return real
        real = os.path.join(os.path.dirname(real), os.readlink(real))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), destination)


def _check(real):
    folder = os.path.dirname(os.path.abspath(real))
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), folder)
        raise FileNotFoundError(errno.ENOENT, "the destination folder does not exist", folder)
    if os.path.isdir(real):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), real)
    if os.path.exists(real) and not os.access(real, os.W_OK):
        raise PermissionError(errno.EACCES, "the destination is read-only", real)


def _create_temporary(real):
    """A new, exclusively created, empty file beside ``real``, created as native creates a new
    destination (mode 0o666 less the umask). A folder that takes no new file (read-only, full)
    raises naming the destination, the one path the user knows."""
    folder, name = os.path.split(os.path.abspath(real))
    budget = name_budget(folder, name)
    for _ in range(NAME_ATTEMPTS):
        candidate = os.path.join(folder, temporary_name(name, budget, secrets.token_hex(4)))
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return candidate
        except FileExistsError:
            continue
        except OSError as error:
            raise type(error)(error.errno, error.strerror, real) from error
    raise FileExistsError(errno.EEXIST, "found no free name for a temporary file", folder)


def name_budget(folder, name, max_path=PATH_LIMIT):
    """The longest temporary name (in the units the filesystem counts) that fits wherever ``name`` fits."""
    room = SHORT_ENOUGH
    if max_path is not None:
        room = min(room, max_path - 1 - _length(os.path.join(folder, "")))
    return max(_length(name), room)


def temporary_name(name, budget, token):
    """``.NAME.TOKEN.acestep-winpatch``, NAME shortened to fit ``budget``; where even the mark does not
    fit (a short name in a folder at Windows' MAX_PATH), a bare token as long as the name."""
    mark = f".{token}{TEMPORARY_MARK}"
    for keep in range(len(name), 0, -1):
        candidate = f".{name[:keep]}{mark}"
        if _length(candidate) <= budget:
            return candidate
    if _length(mark) <= budget:
        return mark
    return (f".{token}" if budget > 1 else token)[:budget]


def _length(text):
    """How the filesystem counts a name: UTF-16 code units on Windows, encoded bytes elsewhere."""
    if os.name == "nt":
        return len(text.encode("utf-16-le")) // 2
    return len(os.fsencode(text))


def _adopt_metadata(finished, real):
    """Give the finished file what native's in-place write keeps of an existing destination: its owner
    and group (where permitted: the owner needs privileges, the group membership), its extended
    attributes and its mode. A new destination keeps what the temporary was created with."""
    try:
        existing = os.stat(real)
    except OSError:
        return
    if hasattr(os, "chown"):
        for owner in (existing.st_uid, -1):
            try:
                os.chown(finished, owner, existing.st_gid)
                break
            except OSError:
                continue
    _copy_extended_attributes(real, finished)
    try:
        os.chmod(finished, stat.S_IMODE(existing.st_mode))  # after the attributes: an ACL sets mode bits
    except OSError:
        pass


def _copy_extended_attributes(source, target):
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError:
            continue


def _move_into_place(finished, real, destination):
    try:
        _replace(finished, real)
        return
    except OSError as error:
        refused = error
    except BaseException:
        _discard(finished)
        raise
    _write_over(finished, real, destination, refused)
    _discard(finished)


def _replace(finished, real):
    """``os.replace``, retried briefly while another process holds a Windows destination open."""
    for pause in REPLACE_RETRY_PAUSES:
        try:
            os.replace(finished, real)
            return
        except PermissionError as error:
            if not held_open_elsewhere(error):
                raise
        time.sleep(pause)
    os.replace(finished, real)


def held_open_elsewhere(error):
    """Whether ``error`` is Windows refusing to replace a file that another process holds open."""
    return getattr(error, "winerror", None) in HELD_OPEN_WINERRORS


def _write_over(finished, real, destination, refused):
    """Write the finished bytes over the destination in place, as native does, after ``os.replace``
    failed with ``refused``.

    The destination grows to the new size before any of its bytes is overwritten, so a full disk
    fails while it is still intact. Whatever fails from here on, the finished file is kept.
    """
    try:
        source = open(finished, "rb")
    except OSError:
        raise refused from None  # the finished file itself is gone: there is nothing to put in place
    overwriting = False
    with source:
        try:
            with open(real, "r+b") as target:
                size = os.fstat(source.fileno()).st_size
                _reserve(target, size)
                overwriting = True
                shutil.copyfileobj(source, target, COPY_CHUNK)
                target.truncate(size)
        except OSError as error:
            state = "may now be incomplete" if overwriting else "is unchanged"
            text = (f"could not save {destination!r}: replacing it failed ({refused}) and so did writing over "
                    f"it ({error}); the destination {state}, and the finished file is kept at {finished!r}")
            raise FinishedFileKept(error.errno, text, destination, None, finished) from error
        except BaseException as error:
            error.add_note(f"the save to {destination!r} stopped while writing over it in place; "
                           f"the finished file is kept at {finished!r}")
            raise


def _reserve(target, size):
    """Grow ``target`` to ``size`` bytes with real disk space (NTFS allocates on truncate; elsewhere
    posix_fallocate); on failure, put its size back and raise."""
    old = os.fstat(target.fileno()).st_size
    if size <= old:
        return
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(target.fileno(), old, size - old)
        else:
            target.truncate(size)
    except OSError as error:
        target.truncate(old)
        if error.errno in (errno.EOPNOTSUPP, errno.ENOSYS):  # no reservation here: just write
            return
        raise


def _discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass
