"""The explicit helpers: load_audio_safe (+ _stereo, _mono) and get_audio_info, in both environments."""

import json
import re

import numpy as np
import pytest
import torch

import acestep_winpatch
from acestep_winpatch import audio as helpers
from audio_material import spec


def dominant_frequency(channel, sample_rate):
    spectrum = np.abs(np.fft.rfft(channel.numpy() * np.hanning(channel.shape[0])))
    return np.fft.rfftfreq(channel.shape[0], 1 / sample_rate)[spectrum.argmax()]


def test_helpers_are_public():
    assert acestep_winpatch.load_audio_safe is helpers.load_audio_safe
    assert acestep_winpatch.get_audio_info is helpers.get_audio_info


def test_load_keeps_channels_by_default(material):
    waveform, sample_rate = acestep_winpatch.load_audio_safe(material["wav_pcm16_48k_6ch"])
    assert waveform.shape == (6, 24000) and sample_rate == 48000 and waveform.dtype == torch.float32


def test_mono_averages_channels(material):
    stereo, _ = acestep_winpatch.load_audio_safe(material["wav_pcm16_44k_stereo"])
    mono, sample_rate = acestep_winpatch.load_audio_safe_mono(material["wav_pcm16_44k_stereo"])
    assert mono.shape == (1, 44100) and sample_rate == 44100
    assert torch.allclose(mono[0], stereo.mean(dim=0))


def test_stereo_repeats_mono_and_keeps_the_first_two_of_many(material):
    from_mono, _ = acestep_winpatch.load_audio_safe_stereo(material["wav_pcm16_16k_mono"])
    assert from_mono.shape == (2, 16000) and torch.equal(from_mono[0], from_mono[1])
    from_six, _ = acestep_winpatch.load_audio_safe_stereo(material["wav_pcm16_48k_6ch"])
    all_six, _ = acestep_winpatch.load_audio_safe(material["wav_pcm16_48k_6ch"])
    assert from_six.shape == (2, 24000) and torch.equal(from_six, all_six[:2])
    from_two, _ = acestep_winpatch.load_audio_safe(material["flac_16_44k_stereo"], mono=False)
    assert from_two.shape == (2, 44100)


@pytest.mark.parametrize("name, target", [("wav_pcm16_44k_stereo", 48000), ("flac_24_48k_stereo", 44100),
                                          ("wav_pcm16_16k_mono", 48000)])
def test_resampling_keeps_length_and_pitch(material, name, target):
    sample_rate, channels, frames, _ = spec(name)
    waveform, got = acestep_winpatch.load_audio_safe(material[name], target_sr=target)
    assert got == target and waveform.dtype == torch.float32
    assert waveform.shape[0] == channels
    assert abs(waveform.shape[1] - round(frames * target / sample_rate)) <= 1
    for channel in range(channels):  # the tone of each channel survives (220 Hz * (1 + 0.25 c))
        assert abs(dominant_frequency(waveform[channel], target) - 220 * (1 + 0.25 * channel)) < 2


def test_resample_without_soxr_uses_torchaudio(python, material):
    """A process where soxr is not installed (its import blocked before anything loads it)."""
    code = f"""
import sys
sys.modules["soxr"] = None
import acestep_winpatch
waveform, sample_rate = acestep_winpatch.load_audio_safe({str(material['wav_pcm16_44k_stereo'])!r}, target_sr=48000)
print("RESULT", tuple(waveform.shape), sample_rate, str(waveform.dtype))
"""
    assert "RESULT (2, 48000) 48000 torch.float32" in python(code).stdout


def test_soxr_and_torchaudio_resamplers_agree(material):
    import torchaudio

    waveform, _ = acestep_winpatch.load_audio_safe(material["wav_pcm16_44k_stereo"])
    ours = helpers.resample(waveform, 44100, 48000)
    reference = torchaudio.functional.resample(waveform, 44100, 48000)
    assert ours.shape == reference.shape
    middle = slice(1000, -1000)  # the edges differ by filter design, the body by well under 1e-2
    assert (ours[:, middle] - reference[:, middle]).abs().max() < 1e-2


def test_get_audio_info(material):
    info = acestep_winpatch.get_audio_info(material["flac_16_48k_6ch"])
    assert (info.sample_rate, info.num_frames, info.num_channels, info.bits_per_sample) == (48000, 24000, 6, 16)
    assert info.encoding == "FLAC"


def test_missing_file(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match=f"^Failed to create AudioDecoder for {re.escape(str(missing))}: ") as caught:
        acestep_winpatch.load_audio_safe(missing)
    assert isinstance(caught.value, RuntimeError) and caught.value.filename == str(missing)
    with pytest.raises(FileNotFoundError, match="No such file or directory") as caught:
        acestep_winpatch.get_audio_info(missing)
    assert caught.value.filename == str(missing)


@pytest.mark.needs_broken_ffmpeg
def test_helpers_fall_back_even_with_the_audio_patches_disabled(python, material):
    code = f"""
import json, acestep_winpatch, torchaudio
waveform, sample_rate = acestep_winpatch.load_audio_safe_stereo({str(material['mp3_16k_mono'])!r})
info = acestep_winpatch.get_audio_info({str(material['mp3_16k_mono'])!r})
status = acestep_winpatch.status()
print("RESULT", json.dumps([list(waveform.shape), sample_rate, info.num_frames,
      status["patches"]["audio.load"]["state"], status["fallbacks"]["audio.load"]["count"]]))
"""
    result = python(code, env={"ACESTEP_WINPATCH_DISABLE": "audio"})
    shape, sample_rate, frames, state, count = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert shape == [2, 16000] and sample_rate == 16000 and frames == 16000
    assert state == "disabled" and count == 1
