"""Real audio files for the tests, generated on demand with numpy and soundfile.

Every file is a sum of sines (a different pitch per channel, so a channel mix-up shows)
written by libsndfile, the same library a user's files come from. Nothing is mocked:
the decoders under test read these bytes exactly as they would read a user's song.

Plain functions for any test module, plus three session fixtures (``wav``, ``material`` and
``long_material``), registered for every test module by ``conftest.py``.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile

# name -> (file name, sample rate, channels, seconds, soundfile format, soundfile subtype).
# File names carry spaces and non-ASCII characters on purpose: users' songs do.
SPECS = {
    "wav_pcm16_44k_stereo": ("pcm16 44k stereo.wav", 44100, 2, 1.0, "WAV", "PCM_16"),
    "wav_pcm16_16k_mono": ("pcm16_16k_mono.wav", 16000, 1, 1.0, "WAV", "PCM_16"),
    "wav_pcm24_48k_stereo": ("pcm24 48k stéréo.wav", 48000, 2, 1.0, "WAV", "PCM_24"),
    "wav_pcm32_48k_stereo": ("pcm32_48k_stereo.wav", 48000, 2, 0.5, "WAV", "PCM_32"),
    "wav_float_44k_stereo": ("float_44k_stereo.wav", 44100, 2, 0.5, "WAV", "FLOAT"),
    "wav_double_16k_mono": ("double_16k_mono.wav", 16000, 1, 0.5, "WAV", "DOUBLE"),
    "wav_u8_16k_mono": ("u8_16k_mono.wav", 16000, 1, 0.5, "WAV", "PCM_U8"),
    "wav_pcm16_48k_6ch": ("pcm16 48k 5.1 音楽.wav", 48000, 6, 0.5, "WAV", "PCM_16"),
    "wav_short": ("short.wav", 44100, 2, 0.01, "WAV", "PCM_16"),
    "flac_16_44k_stereo": ("flac16 44k stereo.flac", 44100, 2, 1.0, "FLAC", "PCM_16"),
    "flac_24_48k_stereo": ("flac24_48k_ステレオ.flac", 48000, 2, 1.0, "FLAC", "PCM_24"),
    "flac_16_16k_mono": ("flac16_16k_mono.flac", 16000, 1, 0.5, "FLAC", "PCM_16"),
    "flac_16_48k_6ch": ("flac16_48k_6ch.flac", 48000, 6, 0.5, "FLAC", "PCM_16"),
    "mp3_44k_stereo": ("mp3 44k stereo.mp3", 44100, 2, 1.0, "MP3", "MPEG_LAYER_III"),
    "mp3_16k_mono": ("mp3_16k_mono.mp3", 16000, 1, 1.0, "MP3", "MPEG_LAYER_III"),
    "ogg_44k_stereo": ("vorbis 44k stereo.ogg", 44100, 2, 1.0, "OGG", "VORBIS"),
    "ogg_48k_mono": ("vorbis_48k_mono.ogg", 48000, 1, 1.0, "OGG", "VORBIS"),
    "opus_48k_stereo": ("opus_48k_stereo.opus", 48000, 2, 1.0, "OGG", "OPUS"),
}

LONG_SECONDS = 180.0
# The short clip of the ``wav`` fixture: a quarter second of 16 kHz stereo, 16-bit WAV.
RATE, CHANNELS, SECONDS = 16000, 2, 0.25


def tone(seconds, sample_rate, channels, amplitude=0.5):
    """Float32 ``[channels, frames]`` sines in [-amplitude, amplitude], a different pitch per channel."""
    frames = int(round(seconds * sample_rate))
    t = np.arange(frames, dtype=np.float64) / sample_rate
    pitches = 220.0 * (1.0 + 0.25 * np.arange(channels))[:, None]
    return (amplitude * np.sin(2.0 * np.pi * pitches * t[None, :])).astype(np.float32)


def subtype_supported(format, subtype):
    """Whether this libsndfile build can write ``format``/``subtype`` (opus and mp3 are recent additions)."""
    return format in soundfile.available_formats() and subtype in soundfile.available_subtypes(format)


def write_file(path, seconds, sample_rate, channels, format, subtype):
    """Write a tone to ``path`` with libsndfile and return the ``[C, T]`` float32 signal that went in.

    Written in blocks (libsndfile 1.2 crashes on one huge Ogg/Vorbis write) to a temporary that
    is renamed at the end, so an interrupted run never leaves a half-written file to reuse.
    """
    signal = tone(seconds, sample_rate, channels)
    partial = Path(f"{path}.partial")
    with soundfile.SoundFile(str(partial), "w", sample_rate, channels, subtype, format=format) as out:
        for start in range(0, signal.shape[1], 1 << 16):
            out.write(np.ascontiguousarray(signal[:, start:start + (1 << 16)].T))
    partial.replace(path)
    return signal


def write_material(folder, names=None):
    """Write the files of ``SPECS`` (or just ``names``) into ``folder``; return ``{name: Path}``.

    Formats this libsndfile build cannot write (opus on old builds) are left out of the result.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names or SPECS:
        filename, sample_rate, channels, seconds, format, subtype = SPECS[name]
        if not subtype_supported(format, subtype):
            continue
        path = folder / filename
        if not path.exists():
            write_file(path, seconds, sample_rate, channels, format, subtype)
        written[name] = path
    return written


def write_long_material(folder, formats=("wav", "flac", "mp3", "ogg"), seconds=LONG_SECONDS):
    """Write ``seconds`` of stereo 44.1 kHz in each of ``formats``; return ``{format: Path}``.

    The benchmark material of issue 6 (180 s). Slow to encode (mp3/ogg take seconds), so
    only tests that need a long file ask for it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layouts = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"),
               "mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS")}
    written = {}
    for extension in formats:
        path = folder / f"long {int(seconds)} s.{extension}"
        if not path.exists():
            write_file(path, seconds, 44100, 2, *layouts[extension])
        written[extension] = path
    return written


def spec(name):
    """``(sample_rate, channels, frames, subtype)`` of a SPECS entry, as written."""
    _, sample_rate, channels, seconds, _, subtype = SPECS[name]
    return sample_rate, channels, int(round(seconds * sample_rate)), subtype


@pytest.fixture(scope="session")
def wav(tmp_path_factory):
    """The short clip the start-up, worker, fork and concurrency tests load, per session: its path."""
    path = tmp_path_factory.mktemp("short clip") / "tone.wav"
    write_file(path, SECONDS, RATE, CHANNELS, "WAV", "PCM_16")
    return str(path)


@pytest.fixture(scope="session")
def material(tmp_path_factory):
    """Every SPECS file this libsndfile can write, in one folder per session: ``{name: Path}``."""
    return write_material(tmp_path_factory.mktemp("audio material"))


@pytest.fixture(scope="session")
def long_material(tmp_path_factory):
    """A several-minutes-long WAV and FLAC (fast to write), per session: ``{format: Path}``."""
    return write_long_material(tmp_path_factory.mktemp("long material"), formats=("wav", "flac"))
