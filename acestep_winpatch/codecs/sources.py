"""Turning what a caller passed (a path or a binary file-like object) into something every decoder can reopen.

A decoder that fails may leave a stream anywhere, and the next decoder in line must start
from the same bytes. So paths are reopened by each decoder, and a file-like object is read
once, from its current position as torchaudio does, and handed on as fresh in-memory streams.
"""

import errno
import io
import os
import stat

HEAD_BYTES = 64


class Source:
    """One audio input: ``name`` for messages, and either ``path`` (str) or ``data`` (bytes).

    ``size`` is the file's size when the caller has just taken it (``resolve`` does).
    """

    def __init__(self, name, path=None, data=None, size=None):
        self.name = name
        self.path = path
        self.data = data
        self._size = size
        self.head = self._read_head()

    def open(self):
        """A fresh binary stream positioned at the start of the audio."""
        if self.path is not None:
            return open(self.path, "rb")
        return io.BytesIO(self.data)

    def size(self):
        """Bytes of audio data available, the bound for anything a header claims."""
        if self._size is None:
            self._size = os.stat(self.path).st_size if self.path is not None else len(self.data)
        return self._size

    def for_library(self):
        """What to give soundfile or PyAV: the path itself, or a fresh in-memory stream."""
        return self.path if self.path is not None else io.BytesIO(self.data)

    def _read_head(self):
        if self.path is None:
            return bytes(self.data[:HEAD_BYTES])
        with open(self.path, "rb") as stream:
            return stream.read(HEAD_BYTES)


def resolve(source):
    """A ``Source`` for a str/PathLike path or a binary file-like object.

    A missing path raises FileNotFoundError and a directory IsADirectoryError, both with
    errno and filename set, as ``open()`` would: these are the caller's mistakes, not decode failures.
    """
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected a binary file-like object, but read() returned {type(data).__name__}")
        name = getattr(source, "name", None)
        return Source(repr(name) if isinstance(name, str) else f"<{type(source).__name__}>", data=bytes(data))
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a path or a binary file-like object, got {type(source).__name__}")
    path = os.fspath(source)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return Source(repr(path), path=path, size=status.st_size)
