"""The fallback codecs' block-wise paths against one plain decode of the same bytes.

Decoding in blocks or through a sample FIFO (PyAV) must never change a sample: each path here is
compared bit for bit with the simplest decode there is (one full read through libsndfile, one
frame-by-frame decode through PyAV, FFmpeg's own quantisation formula), on real files and on
hypothesis-chosen block sizes, offsets and lengths. FLAC's parallel segments: ``test_codecs.py``.
"""

import warnings

import numpy as np
import pytest
import soundfile
import torch
from audio_material import spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acestep_winpatch import codecs
from acestep_winpatch.codecs import pyav_codec, soundfile_codec, sources

LOSSY_SHORT = ["mp3_44k_stereo", "mp3_16k_mono", "ogg_44k_stereo", "ogg_48k_mono"]
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def music(seconds, sample_rate, channels, seed=15):
    """Float32 ``[C, T]``: a few sines per channel plus noise at -30 dB, so Vorbis writes many pages."""
    frames = int(seconds * sample_rate)
    t = np.arange(frames) / sample_rate
    rng = np.random.default_rng(seed)
    rows = [0.3 * np.sin(2 * np.pi * (220 + 55 * channel) * t) + 0.2 * np.sin(2 * np.pi * 1375 * t * (1 + channel))
            + 0.03 * rng.standard_normal(frames) for channel in range(channels)]
    return np.clip(np.array(rows), -1, 1).astype(np.float32)


def write_music(path, seconds, sample_rate, channels, format, subtype):
    samples = music(seconds, sample_rate, channels)
    with soundfile.SoundFile(str(path), "w", sample_rate, channels, subtype, format=format) as out:
        for start in range(0, samples.shape[1], 1 << 16):  # libsndfile's Vorbis encoder fails on one huge write
            out.write(np.ascontiguousarray(samples[:, start:start + (1 << 16)].T))
    return path


@pytest.fixture(scope="module")
def long_lossy(tmp_path_factory):
    """30 s of stereo 44.1 kHz MP3 and Vorbis: several decode blocks, and many FIFO batches."""
    folder = tmp_path_factory.mktemp("long lossy")
    return {"mp3": write_music(folder / "30 s.mp3", 30, 44100, 2, "MP3", "MPEG_LAYER_III"),
            "ogg": write_music(folder / "30 s.ogg", 30, 44100, 2, "OGG", "VORBIS")}


def one_full_read(path):
    """libsndfile's samples of the whole file in ONE read, as ``[T, C]`` float32."""
    with soundfile.SoundFile(str(path)) as audio:
        return audio.read(audio.frames, "float32", always_2d=True)


def through_libsndfile(path, frame_offset=0, num_frames=-1, channels_first=True):
    return soundfile_codec.decode(sources.resolve(path), frame_offset, num_frames, channels_first, True)[0]


def sequential_pyav(path, frame_offset=0, num_frames=-1, channels_first=True):
    """PyAV's plain decode: frame by frame, as FFmpeg hands them out, without the FIFO."""
    import av

    with av.open(str(path)) as container:
        planes = [frame.to_ndarray() for frame in container.decode(audio=0)]
    samples = torch.from_numpy(np.concatenate(planes, axis=1))
    stop = samples.shape[1] if num_frames < 0 else frame_offset + num_frames
    samples = samples[:, frame_offset:stop]
    return samples.contiguous() if channels_first else samples.t().contiguous()


# ---------------------------------------------------------------- libsndfile: consecutive reads


@pytest.mark.parametrize("name", LOSSY_SHORT + ["flac_16_44k_stereo"])
@EXAMPLES
@given(blocks=st.lists(st.integers(1, 6000), min_size=1, max_size=40))
def test_consecutive_reads_in_any_block_sizes_give_one_full_reads_samples(material, name, blocks):
    """python-soundfile's own block reads seek after each block, and MP3 comes out wrong after the first."""
    whole = one_full_read(material[name])
    with soundfile.SoundFile(str(material[name])) as audio:
        read = soundfile_codec.ConsecutiveReads.of(audio)
        parts, position = [], 0
        for size in blocks:
            out = np.empty((size, audio.channels), np.float32)
            got = read(out)
            parts.append(out[:got])
            position += got
            if got < size:
                break
    assert np.array_equal(np.concatenate(parts), whole[:position])


@pytest.mark.parametrize("kind", ["mp3", "ogg"])
@EXAMPLES
@given(start=st.integers(0, 30 * 44100), count=st.one_of(st.just(-1), st.integers(0, 400_000)),
       channels_first=st.booleans())
def test_lossy_libsndfile_decode_at_any_offset_is_one_full_read_sliced(long_lossy, kind, start, count, channels_first):
    whole = torch.from_numpy(one_full_read(long_lossy[kind]))
    stop = whole.shape[0] if count < 0 else start + count
    expected = whole[start:stop]
    tensor = through_libsndfile(long_lossy[kind], start, count, channels_first)
    assert tensor.is_contiguous()
    assert torch.equal(tensor, expected.t() if channels_first else expected)


def test_long_mp3_crosses_decode_blocks(long_lossy):
    assert spec("mp3_44k_stereo")[2] < soundfile_codec.BLOCK_FRAMES < 30 * 44100
    assert torch.equal(through_libsndfile(long_lossy["mp3"]), torch.from_numpy(one_full_read(long_lossy["mp3"]).T))


class SoundfileWithoutCHandle:
    """python-soundfile as a release that no longer exposes its cffi library (``_snd``, ``_ffi``)
    would look to us: a stand-in, since no such release exists to install."""

    def __getattr__(self, name):
        if name in ("_snd", "_ffi"):
            raise AttributeError(name)
        return getattr(soundfile, name)


def test_without_the_c_handle_lossy_files_are_read_at_once(material, monkeypatch):
    monkeypatch.setattr(soundfile_codec, "soundfile", SoundfileWithoutCHandle())
    with soundfile.SoundFile(str(material["mp3_44k_stereo"])) as audio:
        assert soundfile_codec.ConsecutiveReads.of(audio) is None
    for name in ("mp3_44k_stereo", "ogg_44k_stereo"):
        whole = torch.from_numpy(one_full_read(material[name]))
        assert torch.equal(through_libsndfile(material[name], 100, 5000), whole[100:5100].t())


@pytest.mark.slow
@pytest.mark.parametrize("kind, hide_pyav", [("mp3", False), ("ogg", True), ("ogg", False)])
def test_lossy_decode_peak_memory_stays_near_the_result(long_lossy, python, kind, hide_pyav):
    """MP3 (and Vorbis without PyAV) used to be read whole and then transposed: twice the result."""
    result = python(f"""
        import resource, sys
        if {hide_pyav}:
            sys.modules["av"] = None
        from acestep_winpatch import codecs
        codecs.decode({str(long_lossy[kind])!r}, num_frames=50000)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tensor, _ = codecs.decode({str(long_lossy[kind])!r})
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
        print(grown / (tensor.numel() * tensor.element_size()))
    """)
    assert float(result.stdout) <= 1.2


# ---------------------------------------------------------------- PyAV: batches through FFmpeg's sample FIFO


@EXAMPLES
@given(start=st.integers(0, 30 * 44100), count=st.one_of(st.just(-1), st.integers(0, 200_000)),
       channels_first=st.booleans())
def test_pyav_decode_at_any_offset_is_the_sequential_decode_sliced(long_lossy, start, count, channels_first):
    expected = sequential_pyav(long_lossy["ogg"], start, count, channels_first)
    tensor, _ = pyav_codec.decode(sources.resolve(long_lossy["ogg"]), start, count, channels_first, True)
    assert tensor.is_contiguous() and torch.equal(tensor, expected)


@pytest.mark.needs_ffmpeg
def test_batched_vorbis_matches_native_torchaudio(long_lossy):
    import torchaudio

    native, native_rate = torchaudio.load(long_lossy["ogg"])
    ours, rate = codecs.decode(long_lossy["ogg"])
    assert rate == native_rate and ours.shape == native.shape
    assert (ours - native).abs().max() <= codecs.VORBIS_TOLERANCE


# ---------------------------------------------------------------- save: FFmpeg's quantisation in float32

EDGES = [0.0, -0.0, 1.0, -1.0, 1 - 2 ** -24, -1 + 2 ** -24, 1.5, -7.0, 1e30, -1e30, 3e38, -3e38, 1e-45,
         0.5 / 2 ** 15, 1.5 / 2 ** 15, -2.5 / 2 ** 15, 0.5 / 2 ** 23, 1.5 / 2 ** 23, -0.5 / 2 ** 31, 3.5 / 2 ** 31]


def ffmpeg_integers(samples, subtype):
    """FFmpeg swresample's float -> integer conversion: llrint(x * 2^(n-1)) clipped, in double precision;
    24-bit samples are the top 24 bits of the 32-bit result, as its FLAC and PCM encoders take them."""
    integer, scale = soundfile_codec.QUANTISE[subtype]
    limits = np.iinfo(integer)
    exact = np.clip(np.rint(samples.astype(np.float64) * scale), limits.min, limits.max).astype(integer)
    return exact >> 8 if subtype == "PCM_24" else exact


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(-2.0, 2.0, width=32) | st.sampled_from(EDGES), min_size=1, max_size=300))
def test_quantiser_gives_ffmpegs_integers(subtype, dtype, values):
    samples = np.array(values, dtype)
    quantiser = soundfile_codec.Quantiser(subtype, samples.dtype)
    block = np.empty(samples.shape, quantiser.work)
    with np.errstate(over="ignore"):
        quantiser.scale_into(block, samples)
    got = quantiser.integers(block, np.empty(samples.shape, quantiser.integer))
    assert np.array_equal(got >> 8 if subtype == "PCM_24" else got, ffmpeg_integers(samples, subtype))


@pytest.mark.parametrize("extension, subtype", [("wav", "PCM_16"), ("flac", "PCM_24"), ("wav", "PCM_32")])
def test_saved_integers_are_ffmpegs_across_write_blocks(tmp_path, extension, subtype):
    frames = soundfile_codec.WRITE_BLOCK_FRAMES * 2 + 123
    rng = np.random.default_rng(6)
    samples = rng.uniform(-1.3, 1.3, (2, frames)).astype(np.float32)
    samples[:, :len(EDGES)] = np.array(EDGES, np.float32)
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32}[subtype]
    codecs.encode(tmp_path / f"out.{extension}", torch.from_numpy(samples), 44100, bits_per_sample=bits)
    assert soundfile.info(str(tmp_path / f"out.{extension}")).subtype == subtype
    stored, _ = soundfile.read(str(tmp_path / f"out.{extension}"), dtype="int32", always_2d=True)
    expected = ffmpeg_integers(samples.T, subtype).astype(np.int64) << (32 - bits)
    assert np.array_equal(stored.astype(np.int64), expected)


@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_nan_in_a_later_block_fails_the_pipelined_save_and_leaves_the_destination(tmp_path, extension):
    destination = tmp_path / f"song.{extension}"
    destination.write_bytes(b"the user's song")
    samples = torch.zeros(2, soundfile_codec.WRITE_BLOCK_FRAMES * 3)
    samples[1, soundfile_codec.WRITE_BLOCK_FRAMES * 2 + 5] = float("nan")
    with pytest.raises(ValueError, match=f"starts at frame {soundfile_codec.WRITE_BLOCK_FRAMES * 2}"):
        codecs.encode(destination, samples, 44100)
    assert destination.read_bytes() == b"the user's song"
    assert [path.name for path in tmp_path.iterdir()] == [destination.name]


def test_huge_finite_samples_are_clipped_without_a_numpy_warning(tmp_path):
    """Scaled by 2^31 in float32, 1e30 overflows to Inf: clipped like any loud sample, and silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codecs.encode(tmp_path / "huge.flac", torch.tensor([[1e30, -3e38, 0.25, 3e38]]), 44100)
    tensor, _ = codecs.decode(tmp_path / "huge.flac")
    assert tensor.tolist() == [[8388607 / 2 ** 23, -1.0, 0.25, 8388607 / 2 ** 23]]


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_save_of_edge_values_equals_native_save(tmp_path, extension):
    import torchaudio

    rng = np.random.default_rng(7)
    samples = rng.uniform(-1.1, 1.1, (2, soundfile_codec.WRITE_BLOCK_FRAMES + 77)).astype(np.float32)
    # Not the huge ones: FFmpeg's lrintf() of an out-of-range value is undefined (-32768 here for +1e30).
    sane = [value for value in EDGES if abs(value) < 1e6]
    samples[:, :len(sane)] = np.array(sane, np.float32)
    original = torch.from_numpy(samples)
    torchaudio.save(tmp_path / f"native.{extension}", original, 48000)
    codecs.encode(tmp_path / f"ours.{extension}", original, 48000)
    native, _ = torchaudio.load(tmp_path / f"native.{extension}")
    ours, _ = torchaudio.load(tmp_path / f"ours.{extension}")
    assert torch.equal(ours, native)
