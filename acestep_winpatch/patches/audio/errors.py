"""The errors the audio patches raise themselves, each also the type native torchaudio raises."""

import errno


class AudioFileNotFoundError(FileNotFoundError, RuntimeError):
    """A missing input file: a ``FileNotFoundError`` (errno and filename as ``open()`` sets them),
    and the ``RuntimeError`` torchaudio raises for one, with native's message, so code that
    catches or matches either keeps working."""

    @classmethod
    def for_path(cls, path, message):
        return cls(errno.ENOENT, message, path)

    def __str__(self):
        return self.strerror if isinstance(self.strerror, str) else super().__str__()


class AudioBackendError(RuntimeError):
    """Native torchaudio was unavailable and the fallback failed too; the message names both."""


class AudioFormatError(AudioBackendError, ValueError):
    """As ``AudioBackendError``, for a format no fallback writer handles (the message lists those that do)."""
