"""What every decoder promises back: the metadata record and the two errors callers catch."""

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioInfo:
    """Metadata with the field names and encoding strings of torchaudio's ``AudioMetaData``.

    ``encoding`` is one of "PCM_S", "PCM_U", "PCM_F", "FLAC", "MP3", "VORBIS", "OPUS",
    "ULAW", "ALAW", "UNKNOWN"; ``bits_per_sample`` is 0 for compressed formats, as torchaudio reports.
    """

    sample_rate: int
    num_frames: int
    num_channels: int
    bits_per_sample: int
    encoding: str


class DecodeError(RuntimeError):
    """No decoder could read a file. The message names the file and each decoder tried, with its reason."""

    def __init__(self, name, attempts):
        self.name = name
        self.attempts = list(attempts)
        tried = "; ".join(f"{decoder}: {reason}" for decoder, reason in self.attempts) or "no decoder available"
        super().__init__(f"Could not decode audio from {name}. Tried {tried}")


class UnsupportedFormat(ValueError):
    """A format no installed library handles. The message lists the ones that are available."""

    def __init__(self, requested, operation, available):
        self.requested = requested
        self.available = sorted(available)
        super().__init__(
            f"Cannot {operation} audio format {requested!r}; formats available to {operation}: "
            f"{', '.join(self.available)}"
        )
