"""The fallback codecs against their contract, on real files, in both environments.

Where FFmpeg works (``needs_ffmpeg``) the same files go through native torchaudio too (its own
functions, from ``registry.original``: importing ``acestep_winpatch`` patches ``torchaudio.load``),
and the results must be equal, or differ exactly as ``acestep_winpatch.codecs`` documents.
"""

import errno
import io
import struct

import numpy as np
import pytest
import soundfile
import torch
from audio_material import SPECS, spec, tone, write_long_material
import mounts

from acestep_winpatch import codecs, registry
from acestep_winpatch.codecs import librosa_codec, soundfile_codec, sources, wav

LOSSLESS = [name for name in SPECS if name.startswith(("wav", "flac"))]
PCM_WAV_DTYPES = {"PCM_16": torch.int16, "PCM_24": torch.int32, "PCM_32": torch.int32, "PCM_U8": torch.uint8}


def reference(path):
    """libsndfile's own float32 ``[C, T]`` decode of ``path``."""
    samples, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(samples.T)), sample_rate


def native(name):
    """torchaudio 2.11's own function ``name`` (the patch attaches when torchaudio is imported)."""
    import torchaudio  # noqa: F401

    return registry.original(name)


def native_load(*args, **kwargs):
    """torchaudio 2.11's own decode (torchcodec), not our proxy."""
    return native("audio.load_with_torchcodec")(*args, **kwargs)


def native_save(*args, **kwargs):
    """torchaudio 2.11's own encode (torchcodec), not our proxy."""
    return native("audio.save_with_torchcodec")(*args, **kwargs)


def served_by(call):
    """``(result, decoders)``: what ``call(record)`` returned and the decoders it reported."""
    decoders = []
    return call(decoders.append), decoders


def libsndfile_only(path, **options):
    """Our decode restricted to libsndfile: what a user without PyAV gets for Ogg."""
    arguments = dict(frame_offset=0, num_frames=-1, channels_first=True, normalize=True) | options
    return soundfile_codec.decode(sources.resolve(path), *arguments.values())


# ---------------------------------------------------------------- decode: the contract


@pytest.mark.parametrize("name", LOSSLESS)
def test_lossless_decode_is_exact(material, name):
    tensor, sample_rate = codecs.decode(material[name])
    expected, expected_rate = reference(material[name])
    rate, channels, frames, _ = spec(name)
    assert tensor.dtype == torch.float32 and tensor.is_contiguous()
    assert (sample_rate, tuple(tensor.shape)) == (rate, (channels, frames)) == (expected_rate, tuple(expected.shape))
    assert torch.equal(tensor, expected)
    assert tensor.abs().max() <= 1.0


@pytest.mark.parametrize("name", ["mp3_44k_stereo", "mp3_16k_mono"])
def test_mp3_decode_keeps_length_and_signal(material, name):
    tensor, sample_rate = codecs.decode(material[name])
    rate, channels, frames, _ = spec(name)
    assert (sample_rate, tuple(tensor.shape)) == (rate, (channels, frames))
    original = torch.from_numpy(tone(frames / rate, rate, channels))
    assert (tensor - original).abs().max() < 0.05


@pytest.mark.parametrize("name", ["ogg_44k_stereo", "ogg_48k_mono", "opus_48k_stereo"])
def test_ogg_decode_keeps_signal(material, name):
    if name not in material:
        pytest.skip("this libsndfile cannot write Opus")
    tensor, sample_rate = codecs.decode(material[name])
    rate, channels, frames, _ = spec(name)
    assert sample_rate == rate and tensor.shape[0] == channels
    assert abs(tensor.shape[1] - frames) <= codecs.VORBIS_FRAME_SLACK
    n = min(tensor.shape[1], frames)
    original = torch.from_numpy(tone(frames / rate, rate, channels))
    assert (tensor[:, 1000:n - 1000] - original[:, 1000:n - 1000]).abs().max() < 0.05


def test_long_flac_parallel_segments_equal_libsndfile_in_one_piece(long_material):
    assert soundfile_codec.PARALLEL_MIN_FRAMES < 44100 * 180, "the long file takes the parallel path"
    tensor, _ = codecs.decode(long_material["flac"])
    assert torch.equal(tensor, reference(long_material["flac"])[0])


def test_mp3_read_through_libsndfile_is_the_whole_file_decode(material):
    path = material["mp3_44k_stereo"]
    whole, _ = reference(path)
    for start, count in [(0, -1), (44090, 10), (20000, 3000)]:
        part, _ = libsndfile_only(path, frame_offset=start, num_frames=count)
        assert torch.equal(part, whole[:, start:None if count < 0 else start + count])


def test_vorbis_through_libsndfile_differs_from_pyav_only_as_documented(material):
    path = material["ogg_44k_stereo"]
    ours, _ = codecs.decode(path)
    plain, _ = libsndfile_only(path)
    assert plain.shape[1] == spec("ogg_44k_stereo")[2], "libsndfile follows the final granule position"
    assert 0 < abs(plain.shape[1] - ours.shape[1]) <= codecs.VORBIS_FRAME_SLACK
    n = min(plain.shape[1], ours.shape[1])
    assert (plain[:, :n] - ours[:, :n]).abs().max() <= codecs.VORBIS_TOLERANCE


@pytest.mark.parametrize("name", ["wav_pcm16_44k_stereo", "wav_pcm24_48k_stereo", "flac_16_44k_stereo",
                                  "mp3_44k_stereo", "ogg_44k_stereo", "long_flac"])
@pytest.mark.parametrize("offset, count", [(0, -1), (100, 500), (0, 0), (-10, 100), (-10, -1), (0, 10 ** 9)])
def test_frame_offset_and_num_frames_slice_the_full_decode(material, long_material, name, offset, count):
    path = long_material["flac"] if name == "long_flac" else material[name]
    full, _ = codecs.decode(path)
    start = offset if offset >= 0 else full.shape[1] + offset
    part, _ = codecs.decode(path, frame_offset=start, num_frames=count)
    stop = full.shape[1] if count == -1 else start + count
    assert torch.equal(part, full[:, start:stop])


@pytest.mark.parametrize("name", ["wav_pcm16_44k_stereo", "flac_16_44k_stereo", "ogg_44k_stereo"])
@pytest.mark.parametrize("past", [0, 1, 10 ** 6])
def test_offset_at_or_past_the_end_gives_empty_channels(material, name, past):
    full, _ = codecs.decode(material[name])
    tensor, _ = codecs.decode(material[name], frame_offset=full.shape[1] + past)
    assert tuple(tensor.shape) == (full.shape[0], 0) and tensor.dtype == torch.float32
    tensor, _ = codecs.decode(material[name], frame_offset=full.shape[1] + past, channels_first=False)
    assert tuple(tensor.shape) == (0, full.shape[0])


@pytest.mark.parametrize("name", ["wav_pcm16_48k_6ch", "wav_u8_16k_mono", "flac_16_48k_6ch", "mp3_44k_stereo",
                                  "ogg_44k_stereo"])
def test_channels_last_is_the_transpose(material, name):
    first, _ = codecs.decode(material[name], frame_offset=7, num_frames=3000)
    last, _ = codecs.decode(material[name], frame_offset=7, num_frames=3000, channels_first=False)
    assert last.is_contiguous() and torch.equal(last, first.t())


@pytest.mark.parametrize("channels_first", [True, False])
@pytest.mark.parametrize("name", [n for n in LOSSLESS if n.startswith("wav")])
def test_every_plain_wav_is_served_by_the_wav_reader(material, name, channels_first):
    """Issue 11.5: 8-bit WAV with ``channels_first=True`` failed in the built-in reader and the
    chain hid it by moving on to libsndfile. The decoder that served is now reported."""
    (tensor, rate), decoders = served_by(lambda record: codecs.decode(material[name], channels_first=channels_first,
                                                                      record=record))
    assert decoders == ["wav"]
    expected, expected_rate = reference(material[name])
    assert rate == expected_rate and torch.equal(tensor, expected if channels_first else expected.t())
    info, decoders = served_by(lambda record: codecs.read_info(material[name], record=record))
    assert decoders == ["wav"] and info.num_frames == expected.shape[1]


@pytest.mark.parametrize("channels_first", [True, False])
def test_8_bit_wav_through_the_wav_reader_itself(material, channels_first):
    """The reader alone, no chain to hide it: 8-bit samples map to (x - 128) / 128 in both layouts."""
    tensor, rate = wav.decode(sources.resolve(material["wav_u8_16k_mono"]), 0, -1, channels_first, True)
    expected, _ = reference(material["wav_u8_16k_mono"])
    assert rate == 16000 and torch.equal(tensor, expected if channels_first else expected.t())


@pytest.mark.parametrize("name, decoder", [("flac_16_44k_stereo", "soundfile"), ("mp3_44k_stereo", "soundfile"),
                                           ("ogg_44k_stereo", "pyav")])
def test_the_decoder_that_served_is_reported(material, name, decoder):
    _, decoders = served_by(lambda record: codecs.decode(material[name], record=record))
    assert decoders == [decoder]


def test_a_failed_decode_reports_no_decoder(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    decoders = []
    with pytest.raises(codecs.DecodeError, match="Could not decode audio from"):
        codecs.decode(junk, record=decoders.append)
    assert decoders == []


@pytest.mark.parametrize("name", [n for n in LOSSLESS if n.startswith("wav") and spec(n)[3] in PCM_WAV_DTYPES])
def test_normalize_false_returns_the_integers_torchaudio_28_returned(material, name):
    subtype = spec(name)[3]
    tensor, _ = codecs.decode(material[name], normalize=False, frame_offset=5, num_frames=1000)
    assert tensor.dtype == PCM_WAV_DTYPES[subtype]
    if subtype == "PCM_U8":
        raw = np.frombuffer(material[name].read_bytes()[-len(tone(0.5, 16000, 1)[0]):], np.uint8)
        assert torch.equal(tensor[0], torch.from_numpy(raw[5:1005].copy()))
    else:
        dtype = "int16" if subtype == "PCM_16" else "int32"
        expected = soundfile.read(str(material[name]), dtype=dtype, always_2d=True, start=5, frames=1000)[0]
        assert torch.equal(tensor, torch.from_numpy(np.ascontiguousarray(expected.T)))
    normalized, _ = codecs.decode(material[name], frame_offset=5, num_frames=1000)
    scale = {"PCM_16": 2.0 ** -15, "PCM_24": 2.0 ** -31, "PCM_32": 2.0 ** -31}.get(subtype)
    converted = (tensor.double() - 128) / 128 if scale is None else tensor.double() * scale
    assert torch.equal(converted.float(), normalized)


@pytest.mark.parametrize("name", ["wav_float_44k_stereo", "flac_24_48k_stereo", "mp3_44k_stereo"])
def test_normalize_false_is_float_for_everything_else(material, name):
    tensor, _ = codecs.decode(material[name], normalize=False)
    assert tensor.dtype == torch.float32


@pytest.mark.parametrize("name, hint", [("wav_pcm24_48k_stereo", None), ("flac_16_44k_stereo", None),
                                        ("mp3_44k_stereo", "mp3"), ("ogg_44k_stereo", "ogg"),
                                        ("opus_48k_stereo", "opus")])
def test_file_like_sources_read_from_their_position(material, name, hint):
    if name not in material:
        pytest.skip("this libsndfile cannot write Opus")
    expected, rate = codecs.decode(material[name])
    junk = b"not audio" * 3
    stream = io.BytesIO(junk + material[name].read_bytes())
    stream.seek(len(junk))
    tensor, sample_rate = codecs.decode(stream, format=hint)
    assert sample_rate == rate and torch.equal(tensor, expected)
    with open(material[name], "rb") as handle:
        assert torch.equal(codecs.decode(handle, format=hint)[0], expected)


def test_paths_as_str_and_pathlib_with_non_ascii_names(material):
    path = material["flac_24_48k_stereo"]
    assert not path.name.isascii() and " " not in path.name
    spaced = material["wav_pcm16_48k_6ch"]
    assert " " in spaced.name and not spaced.name.isascii()
    for source in (path, str(path), spaced, str(spaced)):
        tensor, _ = codecs.decode(source)
        assert torch.equal(tensor, reference(source)[0])


def test_magic_bytes_win_over_a_wrong_extension(material, tmp_path):
    disguised = tmp_path / "really flac.wav"
    disguised.write_bytes(material["flac_16_44k_stereo"].read_bytes())
    assert torch.equal(codecs.decode(disguised)[0], codecs.decode(material["flac_16_44k_stereo"])[0])


# ---------------------------------------------------------------- read_info


@pytest.mark.parametrize("name", list(SPECS))
def test_read_info_reports_torchaudio_fields(material, name):
    if name not in material:
        pytest.skip("this libsndfile cannot write Opus")
    rate, channels, frames, subtype = spec(name)
    info = codecs.read_info(material[name])
    named = {"VORBIS": ("VORBIS", 0), "OPUS": ("OPUS", 0), "MPEG_LAYER_III": ("MP3", 0),
             "FLOAT": ("PCM_F", 32), "DOUBLE": ("PCM_F", 64), "PCM_U8": ("PCM_U", 8)}
    encoding, bits = named[subtype] if subtype in named else ("PCM_S", int(subtype[4:]))
    if name.startswith("flac"):
        encoding = "FLAC"
    assert info == codecs.AudioInfo(rate, frames, channels, bits, encoding)
    with open(material[name], "rb") as handle:
        assert codecs.read_info(handle) == info


# ---------------------------------------------------------------- bad inputs


def test_missing_path_and_directory_are_the_os_errors(tmp_path):
    missing = tmp_path / "nowhere.wav"
    for call in (codecs.decode, codecs.read_info):
        with pytest.raises(FileNotFoundError) as caught:
            call(missing)
        assert caught.value.errno == errno.ENOENT and caught.value.filename == str(missing)
        with pytest.raises(IsADirectoryError) as caught:
            call(tmp_path)
        assert caught.value.filename == str(tmp_path)


def hostile_files(folder, material):
    """``{file name: bytes}`` of inputs no decoder should accept."""
    rng = np.random.default_rng(7)
    flac = material["flac_16_44k_stereo"].read_bytes()
    return {
        "empty.wav": b"",
        "random.wav": rng.bytes(20000), "random.mp3": rng.bytes(20000),
        "random.flac": rng.bytes(20000), "random.ogg": rng.bytes(20000),
        "picture.wav": b"\x89PNG\r\n\x1a\n" + rng.bytes(5000),
        "truncated.flac": flac[: len(flac) // 2],
        "header only.flac": flac[:400],
        "truncated.ogg": material["ogg_44k_stereo"].read_bytes()[:3000],
    }


def test_undecodable_data_raises_one_chained_error_naming_every_decoder(material, tmp_path):
    for name, data in hostile_files(tmp_path, material).items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(codecs.DecodeError) as caught:
            codecs.decode(path)
        message = str(caught.value)
        assert repr(str(path)) in message, message
        assert "soundfile:" in message and "librosa:" in message, message
        assert caught.value.__cause__ is not None or "librosa: skipped" in message
        assert isinstance(caught.value, RuntimeError)


def test_bytes_that_are_not_audio_fail_through_a_file_like_too(material):
    with pytest.raises(codecs.DecodeError, match="BytesIO"):
        codecs.decode(io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(5000)), format="wav")


def test_truncated_wav_gives_the_frames_present(material, tmp_path):
    data = material["wav_pcm16_44k_stereo"].read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + 4 * 1000 + 3])
    tensor, _ = codecs.decode(cut)
    assert torch.equal(tensor, codecs.decode(material["wav_pcm16_44k_stereo"], num_frames=1000)[0])


def test_header_claiming_two_to_the_31_frames_reads_only_what_is_there(material, tmp_path):
    data = bytearray(material["wav_pcm16_44k_stereo"].read_bytes())
    at = data.index(b"data")
    data[at + 4:at + 8] = struct.pack("<I", 2 ** 32 - 4)
    data[4:8] = struct.pack("<I", 2 ** 32 - 4)
    liar = tmp_path / "liar.wav"
    liar.write_bytes(bytes(data))
    assert codecs.read_info(liar).num_frames == spec("wav_pcm16_44k_stereo")[2]
    assert torch.equal(codecs.decode(liar)[0], codecs.decode(material["wav_pcm16_44k_stereo"])[0])


def test_flac_header_claiming_2_to_the_36_frames_decodes_the_real_ones(material, tmp_path):
    data = bytearray(material["flac_16_44k_stereo"].read_bytes())
    data[21] |= 0x0F
    data[22:26] = b"\xff\xff\xff\xff"
    liar = tmp_path / "liar.flac"
    liar.write_bytes(bytes(data))
    tensor, _ = codecs.decode(liar)
    assert torch.equal(tensor, codecs.decode(material["flac_16_44k_stereo"])[0])


def test_invalid_frame_arguments_are_value_errors(material):
    with pytest.raises(ValueError, match="frame_offset"):
        codecs.decode(material["wav_short"], frame_offset=-1)
    with pytest.raises(ValueError, match="num_frames"):
        codecs.decode(material["wav_short"], num_frames=-2)


def test_librosa_is_skipped_when_it_could_only_retry_libsndfile(material):
    import audioread
    from audioread import rawread

    if any(backend is not rawread.RawAudioFile for backend in audioread.available_backends()):
        pytest.skip("audioread has a real backend here, so librosa is tried")
    with pytest.raises(librosa_codec.NoUsefulBackend):
        librosa_codec.decode(sources.resolve(material["wav_short"]), 0, -1, True, True)


# ---------------------------------------------------------------- encode


def signal(channels=2, frames=20000, rate=44100):
    return torch.from_numpy(tone(frames / rate, rate, channels, amplitude=0.8))


@pytest.mark.parametrize("extension, options, tolerance, info", [
    ("wav", {}, 2 ** -15, ("PCM_S", 16)),
    ("wav", {"encoding": "PCM_S", "bits_per_sample": 24}, 2 ** -23, ("PCM_S", 24)),
    ("wav", {"encoding": "PCM_S", "bits_per_sample": 32}, 2 ** -31, ("PCM_S", 32)),
    ("wav", {"encoding": "PCM_F"}, 0, ("PCM_F", 32)),
    ("wav", {"encoding": "PCM_F", "bits_per_sample": 64}, 0, ("PCM_F", 64)),
    ("wav", {"encoding": "PCM_U", "bits_per_sample": 8}, 2 ** -7, ("PCM_U", 8)),
    ("wav", {"encoding": "ULAW"}, 0.03, ("ULAW", 8)),
    ("wav", {"encoding": "ALAW"}, 0.03, ("ALAW", 8)),
    ("flac", {}, 2 ** -23, ("FLAC", 24)),
    ("flac", {"bits_per_sample": 16}, 2 ** -15, ("FLAC", 16)),
    ("mp3", {}, 0.05, ("MP3", 0)),
    ("ogg", {}, 0.05, ("VORBIS", 0)),
    ("opus", {}, 0.05, ("OPUS", 0)),
])
def test_encode_round_trips_in_every_format(tmp_path, extension, options, tolerance, info):
    if extension not in codecs.available_formats()["write"]:
        pytest.skip(f"this libsndfile cannot write {extension}")
    original = signal(rate=48000)
    path = tmp_path / f"round trip é.{extension}"
    codecs.encode(path, original, 48000, **options)
    decoded, rate = codecs.decode(path)
    assert rate == 48000 and decoded.shape[0] == 2
    assert (codecs.read_info(path).encoding, codecs.read_info(path).bits_per_sample) == info
    if extension in ("mp3", "ogg", "opus"):
        assert abs(decoded.shape[1] - original.shape[1]) <= codecs.VORBIS_FRAME_SLACK
        n = min(decoded.shape[1], original.shape[1]) - 2000
        assert (decoded[:, 2000:n] - original[:, 2000:n]).abs().max() < tolerance
    else:
        assert decoded.shape == original.shape
        assert (decoded - original).abs().max() <= tolerance


def test_float_to_pcm16_rounds_and_clips_like_ffmpeg(tmp_path):
    values = torch.tensor([[1.5, 1.0, -1.0, -1.5, 0.5, 1 / 65536, 3 / 65536, -3 / 65536, 0.0]])
    codecs.encode(tmp_path / "q.wav", values, 8000)
    written = codecs.decode(tmp_path / "q.wav", normalize=False)[0][0].tolist()
    assert written == [32767, 32767, -32768, -32768, 16384, 0, 2, -2, 0]


@pytest.mark.parametrize("dtype, subtype, full_scale", [(torch.int16, "PCM_16", 2 ** 15),
                                                        (torch.int32, "PCM_32", 2 ** 31),
                                                        (torch.uint8, "PCM_U8", 128)])
def test_integer_tensors_keep_their_width(tmp_path, dtype, subtype, full_scale):
    floats = signal(frames=4000)
    integers = (floats * (full_scale - 1)).round().to(torch.int64)
    integers = (integers + 128 if dtype == torch.uint8 else integers).to(dtype)
    codecs.encode(tmp_path / "ints.wav", integers, 44100)
    assert soundfile.info(str(tmp_path / "ints.wav")).subtype == subtype
    assert torch.equal(codecs.decode(tmp_path / "ints.wav", normalize=False)[0], integers)


def test_channels_last_and_one_dimensional_input(tmp_path):
    original = signal(channels=3)
    codecs.encode(tmp_path / "last.flac", original.t(), 44100, channels_first=False)
    codecs.encode(tmp_path / "first.flac", original, 44100)
    assert (tmp_path / "last.flac").read_bytes() == (tmp_path / "first.flac").read_bytes()
    assert (codecs.decode(tmp_path / "last.flac")[0] - original).abs().max() <= 2 ** -23
    codecs.encode(tmp_path / "mono.wav", original[0], 44100)
    assert codecs.decode(tmp_path / "mono.wav")[0].shape == (1, original.shape[1])


def test_file_like_destination_gets_the_encoded_bytes():
    stream = io.BytesIO()
    codecs.encode(stream, signal(), 44100, format="flac")
    stream.seek(0)
    assert (codecs.decode(stream)[0] - signal()).abs().max() <= 2 ** -23


@pytest.mark.parametrize("extension, low, high", [("flac", 0, 8), ("ogg", -1, 10), ("mp3", 32, 320)])
def test_compression_changes_the_output(tmp_path, extension, low, high):
    noise = torch.rand(2, 48000) - 0.5
    sizes = {}
    for level in (low, high):
        path = tmp_path / f"level {level}.{extension}"
        codecs.encode(path, noise, 48000, compression=level)
        sizes[level] = path.stat().st_size
    if extension == "flac":
        assert sizes[high] < sizes[low]
    else:
        assert sizes[high] > 2 * sizes[low]


def test_unknown_or_missing_format_lists_what_is_available(tmp_path):
    with pytest.raises(codecs.UnsupportedFormat, match="wav, .*flac|flac, .*wav") as caught:
        codecs.encode(tmp_path / "song.xyz", signal(), 44100)
    assert "xyz" in str(caught.value) and isinstance(caught.value, ValueError)
    with pytest.raises(codecs.UnsupportedFormat, match="m4a"):
        codecs.encode(tmp_path / "song.wav", signal(), 44100, format="m4a")
    with pytest.raises(codecs.UnsupportedFormat, match="none given"):
        codecs.encode(io.BytesIO(), signal(), 44100)
    assert list(tmp_path.iterdir()) == []


def test_available_formats_cover_the_required_ones():
    formats = codecs.available_formats()
    assert {"wav", "flac", "mp3", "ogg"} <= set(formats["read"])
    assert {"wav", "flac", "mp3", "ogg"} <= set(formats["write"])
    assert formats["read"] == sorted(formats["read"]) and formats["write"] == sorted(formats["write"])


@pytest.mark.parametrize("tensor, message", [(torch.zeros(0, 100), "cannot encode audio with 0 channels"),
                                             (torch.zeros(2, 3, 4), "expected a 1-D or 2-D tensor, got 3-D")])
def test_shapes_no_file_can_hold_are_value_errors(tmp_path, tensor, message):
    with pytest.raises(ValueError, match=message):
        codecs.encode(tmp_path / "x.wav", tensor, 44100)
    assert list(tmp_path.iterdir()) == []


def test_zero_frames_are_written_as_an_empty_file(tmp_path):
    """torchaudio 2.11 writes ``save(path, torch.zeros(2, 0), rate)`` as a header with no samples."""
    codecs.encode(tmp_path / "empty.wav", torch.zeros(2, 0), 16000)
    info = soundfile.info(str(tmp_path / "empty.wav"))
    assert (info.channels, info.frames, info.samplerate) == (2, 0, 16000)


@pytest.mark.parametrize("options, message", [
    ({"encoding": "PCM_S", "bits_per_sample": 12}, "cannot be written with 12 bits per sample"),
    ({"encoding": "OPUS"}, "wav cannot be written with encoding='OPUS'"),
    ({"bits_per_sample": 16, "format": "mp3"}, "mp3 does not take bits_per_sample"),
])
def test_impossible_encodings_are_value_errors(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        codecs.encode(tmp_path / "x.wav", signal(), 44100, **options)
    assert list(tmp_path.iterdir()) == []


def existing_destination(tmp_path):
    path = tmp_path / "keep me.wav"
    codecs.encode(path, signal(frames=1000), 44100)
    return path, path.read_bytes()


@pytest.mark.parametrize("where", [0, -1])
def test_nan_or_inf_fails_without_touching_the_destination(tmp_path, where):
    path, before = existing_destination(tmp_path)
    poisoned = signal(frames=3 * soundfile_codec.BLOCK_FRAMES)
    poisoned[1, where] = float("nan") if where else float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        codecs.encode(path, poisoned, 44100)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary left behind"


def test_encoder_failure_mid_write_leaves_destination_byte_identical(tmp_path):
    path, before = existing_destination(tmp_path)
    with pytest.raises(soundfile.LibsndfileError):
        codecs.encode(path, signal(), 44100 * 1000, format="mp3")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_missing_destination_folder_is_named(tmp_path):
    folder = tmp_path / "not there"
    with pytest.raises(FileNotFoundError) as caught:
        codecs.encode(folder / "x.wav", signal(), 44100)
    assert caught.value.filename == str(folder)


def test_read_only_destination_is_a_permission_error(tmp_path):
    """Read-only even to root (CI runs as root: there a read-only bind mount, see tests/mounts.py)."""
    path, before = existing_destination(tmp_path)
    with mounts.read_only(path):
        with pytest.raises(PermissionError) as caught:
            codecs.encode(path, signal(), 44100)
        assert path.read_bytes() == before
    assert caught.value.filename == str(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_read_only_folder_fails_naming_the_destination_and_creates_nothing(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    with mounts.read_only(folder):
        with pytest.raises(OSError) as caught:
            codecs.encode(folder / "x.wav", signal(), 44100)
        assert list(folder.iterdir()) == []
    assert caught.value.errno in (errno.EACCES, errno.EROFS) and caught.value.filename == str(folder / "x.wav")


def test_destination_whose_parent_is_a_file_is_not_a_directory_error(tmp_path):
    path, before = existing_destination(tmp_path)
    with pytest.raises(NotADirectoryError) as caught:
        codecs.encode(path / "x.wav", signal(), 44100)
    assert caught.value.filename == str(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


# ---------------------------------------------------------------- cost: imports and memory


def test_wav_decode_imports_neither_librosa_nor_pyav(material, python):
    result = python(f"""
        import sys
        from acestep_winpatch import codecs
        codecs.decode({str(material["wav_pcm16_44k_stereo"])!r})
        codecs.read_info({str(material["wav_pcm16_44k_stereo"])!r})
        print(sorted(m for m in ("librosa", "av", "soundfile") if m in sys.modules))
    """)
    assert result.stdout.strip() == "[]"


def test_ogg_decode_without_pyav_falls_back_to_libsndfile(material, python):
    result = python(f"""
        import sys
        sys.modules["av"] = None  # what a missing PyAV looks like to importlib
        from acestep_winpatch import codecs
        tensor, rate = codecs.decode({str(material["ogg_44k_stereo"])!r})
        print(tuple(tensor.shape), "librosa" in sys.modules)
    """)
    assert result.stdout.strip() == f"(2, {spec('ogg_44k_stereo')[2]}) False"


@pytest.mark.slow
@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_long_decode_peak_memory_stays_near_the_result(tmp_path_factory, python, extension):
    path = write_long_material(tmp_path_factory.mktemp("long"), formats=(extension,))[extension]
    result = python(f"""
        import os
        from acestep_winpatch import codecs
        if os.name == "nt":  # the peak working set: Windows' ru_maxrss
            import psutil
            peak = lambda: psutil.Process().memory_info().peak_wset
        else:
            import resource
            peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        codecs.decode({str(path)!r}, num_frames=50000)
        before = peak()
        tensor, _ = codecs.decode({str(path)!r})
        print((peak() - before) / (tensor.numel() * tensor.element_size()))
    """)
    assert float(result.stdout) <= 1.2


# ---------------------------------------------------------------- against native torchaudio


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("name", LOSSLESS)
def test_lossless_decode_equals_native_torchaudio(material, name):
    native, native_rate = native_load(material[name])
    ours, rate = codecs.decode(material[name])
    assert rate == native_rate and torch.equal(ours, native)
    native, _ = native_load(material[name], frame_offset=11, num_frames=777)
    assert torch.equal(codecs.decode(material[name], frame_offset=11, num_frames=777)[0], native)


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("name", ["mp3_44k_stereo", "mp3_16k_mono"])
def test_mp3_differs_from_native_only_within_the_documented_tolerance(material, name):
    native, _ = native_load(material[name])
    ours, _ = codecs.decode(material[name])
    assert ours.shape == native.shape, "both remove the encoder delay and padding"
    assert (ours - native).abs().max() <= codecs.MP3_TOLERANCE


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("name", ["ogg_44k_stereo", "ogg_48k_mono", "opus_48k_stereo"])
def test_ogg_matches_native_through_pyav_and_differs_as_documented_without(material, name):
    if name not in material:
        pytest.skip("this libsndfile cannot write Opus")
    native, _ = native_load(material[name])
    ours, _ = codecs.decode(material[name])
    assert ours.shape == native.shape
    assert (ours - native).abs().max() <= codecs.VORBIS_TOLERANCE
    plain, _ = libsndfile_only(material[name])
    n = min(plain.shape[1], native.shape[1])
    assert abs(plain.shape[1] - native.shape[1]) <= codecs.VORBIS_FRAME_SLACK
    tolerance = codecs.OPUS_TOLERANCE if name.startswith("opus") else codecs.VORBIS_TOLERANCE
    assert (plain[:, :n] - native[:, :n]).abs().max() <= tolerance


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_encode_writes_the_samples_native_save_writes(tmp_path, extension):
    original = torch.rand(2, 30000) * 2.4 - 1.2
    native_save(tmp_path / f"native.{extension}", original, 44100)
    codecs.encode(tmp_path / f"ours.{extension}", original, 44100)
    native, _ = native_load(tmp_path / f"native.{extension}")
    ours, _ = native_load(tmp_path / f"ours.{extension}")
    assert torch.equal(ours, native)
    assert codecs.read_info(tmp_path / f"ours.{extension}") == codecs.read_info(tmp_path / f"native.{extension}")
