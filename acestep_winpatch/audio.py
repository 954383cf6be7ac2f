"""The explicit audio helpers: load a song as ACE-Step wants it, whatever this machine's torchaudio can do.

They run through the same native-first policy as the patched ``torchaudio.load``/``info``
(``patches.audio.policy.native_first``), whether or not the patches are applied: a caller who asks
for a *safe* load by name gets the fallback even with ``ACESTEP_WINPATCH_DISABLE=audio``.

Channels
    ``mono=None`` keeps the file's channels; ``mono=True`` averages them into one
    (``[1, T]``); ``mono=False`` returns exactly two: mono is repeated, and of more than two
    channels the first two are kept (front left and right in WAV/FLAC channel order), as
    ACE-Step itself does, rather than a downmix that would have to guess the layout.

Resampling (``target_sr``)
    Through soxr (installed with librosa) at its "HQ" quality: libsoxr's 20-bit-precision
    recipe, about 120 dB of stopband rejection, linear phase. Without soxr,
    ``torchaudio.functional.resample`` with its defaults (windowed sinc, Hann window,
    ``lowpass_filter_width=6``, ``rolloff=0.99``), which is a little softer near Nyquist.
"""

import torch
import torchaudio

from .patches.audio.policy import create_info, native_first
from .proxies import WinpatchProxy

SOXR_QUALITY = "HQ"


def load_audio_safe(path, target_sr=None, mono=None):
    """``(waveform [C, T] float32, sample_rate)`` of ``path``, resampled to ``target_sr`` if given.

    ``mono``: ``None`` keeps the file's channels, ``True`` gives one, ``False`` gives two.
    """
    waveform, sample_rate = native_first("audio.load", _beneath_our_proxy(torchaudio.load), (path,), {})
    waveform = _with_channels(waveform, mono)
    if target_sr is not None and int(target_sr) != sample_rate:
        waveform = resample(waveform, sample_rate, int(target_sr))
        sample_rate = int(target_sr)
    return waveform, sample_rate


def load_audio_safe_stereo(path, target_sr=None):
    """``load_audio_safe`` with exactly two channels, the layout ACE-Step's models take."""
    return load_audio_safe(path, target_sr=target_sr, mono=False)


def load_audio_safe_mono(path, target_sr=None):
    """``load_audio_safe`` averaged to one channel, ``[1, T]``."""
    return load_audio_safe(path, target_sr=target_sr, mono=True)


def get_audio_info(path):
    """Metadata with torchaudio's ``AudioMetaData`` fields: sample_rate, num_frames, num_channels,
    bits_per_sample, encoding (``num_frames / sample_rate`` is the duration in seconds)."""
    info = _beneath_our_proxy(getattr(torchaudio, "info", None) or create_info())
    return native_first("audio.info", info, (path,), {})


def resample(waveform, orig_sr, target_sr):
    """``[C, T]`` float32 at ``orig_sr`` -> ``[C, T']`` float32 at ``target_sr`` (soxr HQ when installed)."""
    try:
        import soxr
    except ImportError:
        return torchaudio.functional.resample(waveform, orig_sr, target_sr)
    import numpy as np

    frames_by_channel = np.ascontiguousarray(waveform.numpy().T)
    resampled = soxr.resample(frames_by_channel, orig_sr, target_sr, quality=SOXR_QUALITY)
    return torch.from_numpy(resampled.reshape(resampled.shape[0], -1).T.copy())


def _beneath_our_proxy(function):
    """What our proxy wraps, so the helpers apply the policy themselves (patches applied or not)."""
    while isinstance(function, WinpatchProxy):
        function = function.__wrapped__
    return function


def _with_channels(waveform, mono):
    if mono is None:
        return waveform
    if mono:
        return waveform.mean(dim=0, keepdim=True) if waveform.shape[0] != 1 else waveform
    if waveform.shape[0] == 1:
        return waveform.repeat(2, 1)
    return waveform[:2].contiguous() if waveform.shape[0] > 2 else waveform
