"""The last resort: librosa, the universal loader ACE-Step's model card suggests.

``librosa.load`` tries libsndfile (already tried before we get here) and then audioread, so it
can only add something when audioread has a real decoder backend (FFmpeg's command line tool,
GStreamer, Core Audio, MAD). Where it has only its standard-library WAV/AIFF reader, we skip
librosa instead of paying its 1-15 s import for nothing. Its output is decoded whole and then
sliced: slower and larger than the other decoders, acceptable for a fallback of a fallback.
"""

import numpy as np
import torch

from .contract import AudioInfo


class NoUsefulBackend(RuntimeError):
    """librosa could only repeat what libsndfile already failed to do."""


def _require_real_backend():
    import audioread
    from audioread import rawread

    extra = [backend.__name__ for backend in audioread.available_backends() if backend is not rawread.RawAudioFile]
    if not extra:
        raise NoUsefulBackend(
            "skipped: audioread has no decoder backend here (no ffmpeg command, GStreamer, Core Audio or MAD), "
            "so librosa would only retry libsndfile"
        )


def _load(source):
    _require_real_backend()
    import librosa

    samples, sample_rate = librosa.load(source.for_library(), sr=None, mono=False, dtype=np.float32)
    return np.atleast_2d(samples), sample_rate


def read_info(source):
    samples, sample_rate = _load(source)
    return AudioInfo(sample_rate, samples.shape[1], samples.shape[0], 0, "UNKNOWN")


def decode(source, frame_offset, num_frames, channels_first, normalize):
    samples, sample_rate = _load(source)
    start = min(max(frame_offset, 0), samples.shape[1])
    stop = samples.shape[1] if num_frames < 0 else min(samples.shape[1], start + num_frames)
    tensor = torch.from_numpy(np.ascontiguousarray(samples[:, start:stop]))
    return (tensor if channels_first else tensor.t().contiguous()), sample_rate
