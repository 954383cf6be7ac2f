"""ACE-Step's own torchaudio call shapes, as its pipeline and dataset code write them.

They run unchanged in both environments: with FFmpeg visible they are torchaudio's own
calls; without it (the Windows failure) they must still work, and a load must never come
back empty, because ACE-Step 1.5 swallows load errors and would generate without the
user's reference audio.
"""

import pytest
import soundfile
import torch
import torchaudio

import acestep_winpatch  # noqa: F401  (applies the patches, as a user's activation path does)
from audio_material import spec, tone


def test_mono_repeated_to_stereo_after_load(material):
    """pipeline_ace_step: ``if audio.shape[0] == 1: audio = audio.repeat(2, 1)``."""
    audio, sample_rate = torchaudio.load(material["wav_pcm16_16k_mono"])
    if audio.shape[0] == 1:
        audio = audio.repeat(2, 1)
    assert audio.shape == (2, 16000) and sample_rate == 16000
    assert torch.equal(audio[0], audio[1]) and audio.abs().max() > 0.4


def test_duration_from_info(material):
    """The dataset builder: ``info = torchaudio.info(path); duration = info.num_frames / info.sample_rate``."""
    for name in ("wav_pcm16_44k_stereo", "flac_24_48k_stereo", "mp3_44k_stereo", "ogg_44k_stereo"):
        info = torchaudio.info(material[name])
        duration = info.num_frames / info.sample_rate
        assert abs(duration - 1.0) < 0.05, (name, duration)


def test_save_wav_with_format_and_soundfile_backend(tmp_path):
    """save_wav_file: ``torchaudio.save(path, wav, sample_rate=48000, format="wav", backend="soundfile")``."""
    wav = torch.from_numpy(tone(2.0, 48000, 2))
    path = tmp_path / "output_20250101_0.wav"
    torchaudio.save(str(path), wav.float(), sample_rate=48000, format="wav", backend="soundfile")
    info = soundfile.info(str(path))
    assert (info.format, info.samplerate, info.channels, info.frames) == ("WAV", 48000, 2, 96000)
    back, _ = torchaudio.load(path)
    assert (back - wav).abs().max() <= 1 / 32768


def test_save_ogg_with_sox_backend(tmp_path):
    """The ogg output option: ``torchaudio.save(path, wav, sample_rate, backend="sox")`` with a .ogg path."""
    wav = torch.from_numpy(tone(1.0, 48000, 2))
    path = tmp_path / "output.ogg"
    torchaudio.save(str(path), wav, 48000, backend="sox")
    info = soundfile.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "VORBIS", 48000, 2)
    back, _ = torchaudio.load(path)
    assert abs(back.pow(2).mean().sqrt() - wav.pow(2).mean().sqrt()) < 0.02


def test_reference_audio_for_cover_and_repaint_is_really_loaded(material):
    """cover/repaint/extend: the user's reference song (an MP3 with a space in its name) must load with content."""
    audio, sample_rate = torchaudio.load(material["mp3_44k_stereo"])
    expected_rate, channels, frames, _ = spec("mp3_44k_stereo")
    assert sample_rate == expected_rate and audio.shape == (channels, frames)
    assert audio.pow(2).mean().sqrt() > 0.3  # a 0.5-amplitude tone, not silence
    segment, _ = torchaudio.load(material["mp3_44k_stereo"], frame_offset=11025, num_frames=22050)
    assert segment.shape == (2, 22050)


@pytest.mark.parametrize("extension", ["wav", "flac", "mp3", "ogg", "opus"])
def test_export_in_every_format_with_the_ffmpeg_backend(tmp_path, extension):
    """ACE-Step 1.5's export: ``torchaudio.save(path, audio, 48000, backend="ffmpeg")`` for the format
    the user picked. torchaudio 2.11 ignores ``backend=`` with a warning, natively and through the fallback."""
    audio = torch.from_numpy(tone(1.0, 48000, 2))
    path = tmp_path / f"output.{extension}"
    with pytest.warns(UserWarning, match="The 'backend' parameter is not used by TorchCodec AudioEncoder"):
        torchaudio.save(str(path), audio, 48000, backend="ffmpeg")
    back, sample_rate = torchaudio.load(path)
    assert sample_rate == 48000 and back.shape[0] == 2 and abs(back.shape[1] - 48000) <= 2048
    assert abs(back.pow(2).mean().sqrt() - audio.pow(2).mean().sqrt()) < 0.05
