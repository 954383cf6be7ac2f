"""The torchaudio load/save/info policy on torchaudio >= 2.9, in both real environments.

Working environment (FFmpeg visible): the patched functions return torchaudio's own results
and nothing falls back. Broken environment (FFmpeg not loadable, the real Windows failure):
every call pattern works through the fallback and keeps the torchaudio contract. Counting
and the one-warning rule are checked in fresh interpreters, where nothing has fallen back yet.
"""

import io
import json
import re
import warnings

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

import acestep_winpatch
from acestep_winpatch import codecs, registry
from acestep_winpatch.patches import audio as policy
from audio_material import spec, tone

LOSSLESS = ["wav_pcm16_44k_stereo", "wav_pcm24_48k_stereo", "wav_float_44k_stereo", "wav_pcm16_48k_6ch",
            "flac_16_44k_stereo", "flac_24_48k_stereo", "wav_short"]
EVERY_FORMAT = LOSSLESS + ["mp3_44k_stereo", "ogg_44k_stereo"]


def native_load(*args, **kwargs):
    """torchaudio's own torchcodec decode, beneath our proxy."""
    return registry.original("audio.load_with_torchcodec")(*args, **kwargs)


def audio_fallbacks():
    return {kind: entry for kind, entry in acestep_winpatch.status()["fallbacks"].items() if kind.startswith("audio.")}


def test_patches_are_attached():
    patches = acestep_winpatch.status()["patches"]
    for name in ("audio.load", "audio.save", "audio.load_with_torchcodec", "audio.save_with_torchcodec"):
        assert patches[name]["state"] == "attached", patches[name]
    assert patches["audio.info"]["state"] == "attached"
    assert "restored" in patches["audio.info"]["detail"]
    assert isinstance(torchaudio.load, registry_proxy_type())


def registry_proxy_type():
    from acestep_winpatch.proxies import WinpatchProxy

    return WinpatchProxy


# ---- working environment: torchaudio's own results ----

@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("name", EVERY_FORMAT)
def test_working_load_is_torchaudios_own(material, name):
    patched, patched_sr = torchaudio.load(material[name])
    native, native_sr = native_load(material[name])
    assert patched_sr == native_sr
    assert torch.equal(patched, native)
    part, _ = torchaudio.load(material[name], frame_offset=100, num_frames=200, channels_first=False)
    assert torch.equal(part, native_load(material[name], frame_offset=100, num_frames=200, channels_first=False)[0])
    assert audio_fallbacks() == {}


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("extension", ["wav", "flac", "mp3", "ogg"])
def test_working_save_is_torchaudios_own(tmp_path, extension):
    signal = torch.from_numpy(tone(0.5, 44100, 2))
    ours, theirs = tmp_path / f"ours.{extension}", tmp_path / f"theirs.{extension}"
    torchaudio.save(ours, signal, 44100)
    registry.original("audio.save_with_torchcodec")(theirs, signal, 44100)
    assert torch.equal(native_load(ours)[0], native_load(theirs)[0])
    assert soundfile.info(str(ours)).subtype == soundfile.info(str(theirs)).subtype
    assert audio_fallbacks() == {}


@pytest.mark.needs_ffmpeg
def test_working_corrupt_file_raises_torchaudios_error(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    with pytest.raises(RuntimeError, match="Failed to create AudioDecoder") as raised:
        torchaudio.load(corrupt)
    assert not isinstance(raised.value, policy.AudioBackendError)
    assert audio_fallbacks() == {}


@pytest.mark.needs_ffmpeg
def test_working_native_failure_on_one_file_is_not_rescued(tmp_path):
    """A format FFmpeg lacks but libsndfile reads (MATLAB 5): native's error propagates unchanged,
    although the fallback could decode it. A working backend that rejects a file is not 'unavailable'."""
    path = tmp_path / "matlab.mat"
    soundfile.write(str(path), tone(0.1, 16000, 1).T, 16000, format="MAT5", subtype="PCM_16")
    assert codecs.decode(path)[0].shape == (1, 1600)  # the fallback would succeed...
    with pytest.raises(RuntimeError) as raised:
        torchaudio.load(path)
    with pytest.raises(RuntimeError) as direct:
        native_load(path)
    assert type(raised.value) is type(direct.value)
    assert str(raised.value) == str(direct.value)  # ...but the native error is what the caller gets
    assert audio_fallbacks() == {}


# ---- both environments ----

def test_missing_file_is_file_not_found_and_runtime_error(tmp_path):
    missing = tmp_path / "no such song.wav"
    for call in (lambda: torchaudio.load(missing), lambda: torchaudio.info(missing),
                 lambda: torchaudio.load_with_torchcodec(str(missing))):
        with pytest.raises(FileNotFoundError) as raised:
            call()
        assert isinstance(raised.value, RuntimeError)
        assert raised.value.filename == str(missing) and raised.value.errno == 2


@pytest.mark.parametrize("load", ["load", "load_with_torchcodec"])
def test_missing_file_message_is_natives(tmp_path, load):
    """Issue 11.2: code matching native's message (torchaudio's own test_invalid_file does) keeps working."""
    missing = tmp_path / "no such song.wav"
    expected = f"^Failed to create AudioDecoder for {re.escape(str(missing))}: .*" \
               f"Could not open input file: {re.escape(str(missing))} No such file or directory$"
    with pytest.raises(RuntimeError, match=expected) as raised:
        getattr(torchaudio, load)(missing)
    assert isinstance(raised.value, policy.AudioFileNotFoundError)


def test_corrupt_file_raises(tmp_path):
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 8)
    with pytest.raises(RuntimeError, match=f"^Failed to create AudioDecoder for {re.escape(str(corrupt))}: "):
        torchaudio.load(corrupt)


# What native torchaudio 2.11 raises for each bad input (recorded here with FFmpeg 5.1 visible:
# type, and the start of its message; the rest names torchcodec's internals). The fallback must
# raise the same type with a message starting the same way. ``test_recorded_errors_are_natives``
# re-checks the recording against torchaudio's own functions wherever FFmpeg works.
NATIVE_ERRORS = {
    "corrupt wav": ("load", lambda d: ((d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20),
                                       d / "corrupt.wav")[1], RuntimeError, "Failed to create AudioDecoder for {uri}: "),
    "empty file": ("load", lambda d: ((d / "empty.wav").write_bytes(b""), d / "empty.wav")[1],
                   RuntimeError, "Failed to create AudioDecoder for {uri}: "),
    "text named mp3": ("load", lambda d: ((d / "text.mp3").write_bytes(b"not audio at all\n" * 50), d / "text.mp3")[1],
                       RuntimeError, "Failed to create AudioDecoder for {uri}: "),
    "a directory": ("load", lambda d: d, RuntimeError, "Failed to create AudioDecoder for {uri}: "),
    "junk bytes": ("load", lambda d: io.BytesIO(b"junk" * 100), RuntimeError, "Failed to create AudioDecoder for {uri}: "),
    "unknown extension": ("save", lambda d: d / "song.xyz", RuntimeError, "Failed to save audio to {uri}: "),
    "no extension": ("save", lambda d: d / "song", RuntimeError, "Failed to save audio to {uri}: "),
    "into a directory": ("save", lambda d: d, RuntimeError, "Failed to save audio to {uri}: "),
    "missing folder": ("save", lambda d: d / "nowhere" / "song.wav", RuntimeError, "Failed to save audio to {uri}: "),
    "file-like destination": ("save", lambda d: io.BytesIO(), RuntimeError, "Failed to save audio to {uri}: "),
    "no channels": ("save", lambda d: (d / "song.wav", torch.zeros(0, 100)), RuntimeError,
                    "Failed to save audio to {uri}: "),
    "3-D tensor": ("save", lambda d: (d / "song.wav", torch.zeros(1, 2, 100)), ValueError,
                   "Expected 1D or 2D tensor, got 3D tensor"),
    "not a tensor": ("save", lambda d: (d / "song.wav", [0.0, 0.1]), ValueError,
                     "Expected src to be a torch.Tensor, got <class 'list'>"),
    "negative sample rate": ("save", lambda d: (d / "song.wav", torch.zeros(2, 100), -1), ValueError,
                             "sample_rate must be positive, got -1"),
}


def provoke(case, folder, load, save):
    verb, make, expected_type, expected_start = NATIVE_ERRORS[case]
    made = make(folder)
    uri, src, rate = (made + (16000,))[:3] if isinstance(made, tuple) else (made, torch.zeros(2, 100), 16000)
    with pytest.raises(Exception) as raised:
        load(uri) if verb == "load" else save(uri, src, rate)
    return raised.value, expected_type, expected_start.format(uri=uri)


@pytest.mark.parametrize("case", sorted(NATIVE_ERRORS))
def test_errors_read_as_natives(tmp_path, case):
    """Issue 11.2: the same type and the same opening words as native, where it works or not."""
    error, expected_type, expected_start = provoke(case, tmp_path, torchaudio.load, torchaudio.save)
    assert isinstance(error, expected_type), (type(error), error)
    assert str(error).startswith(expected_start), str(error)


@pytest.mark.needs_ffmpeg
@pytest.mark.parametrize("case", sorted(NATIVE_ERRORS))
def test_recorded_errors_are_natives(tmp_path, case):
    error, expected_type, expected_start = provoke(case, tmp_path, native_load, registry.original("audio.save"))
    assert type(error) is expected_type and str(error).startswith(expected_start), (type(error), error)


# torchaudio 2.11's warnings for the arguments it ignores, in the order it emits them
# (torchaudio/_torchcodec.py); native writes the file whatever their values.
SAVE_IGNORED = [
    ("format", "wav", "The 'format' parameter is not used by TorchCodec AudioEncoder. "
                      "Format is determined by the file extension."),
    ("encoding", "PCM_16", "The 'encoding' parameter is not fully supported by TorchCodec AudioEncoder."),
    ("bits_per_sample", 32, "The 'bits_per_sample' parameter is not directly supported by TorchCodec AudioEncoder."),
    ("buffer_size", 8192, "The 'buffer_size' parameter is not used by TorchCodec AudioEncoder."),
    ("backend", "soundfile", "The 'backend' parameter is not used by TorchCodec AudioEncoder."),
]
LOAD_IGNORED = [
    ("normalize", False, "TorchCodec AudioDecoder always returns normalized float32 samples. "
                         "The 'normalize=False' parameter is ignored."),
    ("buffer_size", 8192, "The 'buffer_size' parameter is not used by TorchCodec AudioDecoder."),
    ("backend", "ffmpeg", "The 'backend' parameter is not used by TorchCodec AudioDecoder."),
    ("format", "mp3", "The 'format' parameter is not supported by TorchCodec AudioDecoder."),
]


def caught_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [(w.category, str(w.message)) for w in caught if "TorchCodec" in str(w.message)]


@pytest.mark.parametrize("encoding, bits", [("PCM_16", None), ("PCM_F", 32), ("ULAW", 8), ("PCM_S", 12), (None, 64)])
def test_save_ignores_encoding_and_bits_with_natives_warnings(tmp_path, encoding, bits):
    """Issue 11.1: a save native accepts is never refused; float WAV is 16-bit PCM whatever was asked."""
    path = tmp_path / "song.wav"
    _, seen = caught_warnings(lambda: torchaudio.save(path, torch.from_numpy(tone(0.1, 16000, 2)), 16000,
                                                      encoding=encoding, bits_per_sample=bits))
    expected = [text for name, _, text in SAVE_IGNORED if {"encoding": encoding, "bits_per_sample": bits}.get(name)]
    assert seen == [(UserWarning, text) for text in expected]
    assert soundfile.info(str(path)).subtype == "PCM_16"


def test_save_every_ignored_argument_warns_in_natives_order(tmp_path):
    path = tmp_path / "song.flac"
    arguments = {name: value for name, value, _ in SAVE_IGNORED}
    _, seen = caught_warnings(lambda: torchaudio.save(path, torch.from_numpy(tone(0.1, 16000, 2)), 16000, **arguments))
    assert seen == [(UserWarning, text) for _, _, text in SAVE_IGNORED]
    assert soundfile.info(str(path)).format == "FLAC" and soundfile.info(str(path)).subtype == "PCM_24"


@pytest.mark.parametrize("function", ["load", "load_with_torchcodec"])
def test_load_every_ignored_argument_warns_in_natives_order(material, function):
    arguments = {name: value for name, value, _ in LOAD_IGNORED}
    (waveform, rate), seen = caught_warnings(lambda: getattr(torchaudio, function)(material["wav_pcm16_44k_stereo"],
                                                                                 **arguments))
    assert seen == [(UserWarning, text) for _, _, text in LOAD_IGNORED]
    assert waveform.dtype == torch.float32 and rate == 44100  # format="mp3" changed nothing


@pytest.mark.parametrize("offset, count, start, stop", [(-5, 100, 0, 100), (0, -7, 0, None), (10, -1, 10, None),
                                                        (10, 0, 10, 10)])
def test_frame_arguments_native_accepts_are_never_refused(material, offset, count, start, stop):
    """torchaudio 2.11 reads from the start for frame_offset <= 0 and to the end for any negative num_frames."""
    path = material["wav_pcm16_44k_stereo"]
    whole, _ = torchaudio.load(path)
    part, _ = torchaudio.load(path, frame_offset=offset, num_frames=count)
    assert torch.equal(part, whole[:, start:stop])


def test_info_fields(material):
    for name in ("wav_pcm24_48k_stereo", "flac_16_16k_mono", "mp3_44k_stereo"):
        sample_rate, channels, frames, _ = spec(name)
        info = torchaudio.info(material[name])
        assert (info.sample_rate, info.num_channels, info.num_frames) == (sample_rate, channels, frames)
    assert torchaudio.info(material["wav_pcm24_48k_stereo"]).bits_per_sample == 24
    assert torchaudio.info(material["wav_pcm24_48k_stereo"]).encoding == "PCM_S"


def test_wrong_arguments_get_torchaudios_type_error(material):
    with pytest.raises(TypeError, match="unexpected keyword"):
        torchaudio.load(material["wav_short"], no_such_argument=1)


# ---- broken environment: the fallback keeps the contract ----

@pytest.mark.needs_broken_ffmpeg
@pytest.mark.parametrize("name", EVERY_FORMAT + ["wav_u8_16k_mono", "wav_double_16k_mono", "flac_16_48k_6ch",
                                                 "mp3_16k_mono", "ogg_48k_mono"])
def test_broken_load_contract(material, name):
    sample_rate, channels, frames, _ = spec(name)
    waveform, got_sr = torchaudio.load(material[name])
    assert got_sr == sample_rate and waveform.dtype == torch.float32
    assert waveform.shape[0] == channels
    assert abs(waveform.shape[1] - frames) <= (codecs.VORBIS_FRAME_SLACK if "ogg" in name else 0)
    assert waveform.abs().max() <= 1.0 and waveform.abs().max() > 0.4
    if name in LOSSLESS:
        expected, _ = soundfile.read(str(material[name]), dtype="float32", always_2d=True)
        np.testing.assert_allclose(waveform.numpy(), expected.T, atol=1e-6)
    window, _ = torchaudio.load(material[name], frame_offset=10, num_frames=100, channels_first=False)
    assert window.shape == (min(100, waveform.shape[1] - 10), channels)
    exact = name in LOSSLESS or "wav" in name or "flac" in name
    torch.testing.assert_close(window, waveform[:, 10:110].T, atol=0 if exact else 1e-4, rtol=0)
    tail, _ = torchaudio.load(material[name], frame_offset=waveform.shape[1] + 5)
    assert tail.shape == (channels, 0)


@pytest.mark.needs_broken_ffmpeg
def test_broken_load_sources(material):
    path = material["flac_24_48k_stereo"]  # non-ASCII name
    reference, _ = torchaudio.load(path)
    assert torch.equal(torchaudio.load(str(path))[0], reference)
    with open(path, "rb") as stream:
        assert torch.equal(torchaudio.load(stream)[0], reference)
    assert torch.equal(torchaudio.load(io.BytesIO(path.read_bytes()), format="flac")[0], reference)


@pytest.mark.needs_broken_ffmpeg
def test_broken_normalize_false_warns_like_torchaudio(material):
    with pytest.warns(UserWarning, match="The 'normalize=False' parameter is ignored"):
        waveform, _ = torchaudio.load(material["wav_pcm16_44k_stereo"], normalize=False)
    assert waveform.dtype == torch.float32


@pytest.mark.needs_broken_ffmpeg
@pytest.mark.parametrize("extension, subtype, tolerance", [
    ("wav", "PCM_16", 1 / 32768), ("flac", "PCM_24", 1 / 2 ** 23), ("mp3", None, 0.05), ("ogg", None, 0.05),
])
def test_broken_save_round_trip(tmp_path, extension, subtype, tolerance):
    signal = torch.from_numpy(tone(1.0, 44100, 2))
    path = tmp_path / f"out put é.{extension}"
    torchaudio.save(path, signal, 44100)
    if subtype:
        assert soundfile.info(str(path)).subtype == subtype  # float in, as native 2.11 writes it
    back, sample_rate = torchaudio.load(path)
    assert sample_rate == 44100 and back.shape[0] == 2
    frames = min(back.shape[1], signal.shape[1])
    if extension in ("wav", "flac"):
        assert back.shape == signal.shape
        assert (back - signal).abs().max() <= tolerance
    else:  # lossy: compare the level, not the samples
        assert abs(back[:, :frames].pow(2).mean().sqrt() - signal.pow(2).mean().sqrt()) < tolerance


@pytest.mark.needs_broken_ffmpeg
def test_broken_save_shapes_and_arguments(tmp_path):
    signal = torch.from_numpy(tone(0.2, 16000, 2))
    torchaudio.save(tmp_path / "time_first.wav", signal.T, 16000, channels_first=False)
    assert torch.allclose(torchaudio.load(tmp_path / "time_first.wav")[0], signal, atol=1 / 32768)
    torchaudio.save(tmp_path / "mono.wav", signal[0], 16000)  # 1-D is mono from 2.9 on
    assert torchaudio.load(tmp_path / "mono.wav")[0].shape == (1, signal.shape[1])
    with pytest.raises(ValueError, match="Expected 1D or 2D tensor, got 3D tensor"):
        torchaudio.save(tmp_path / "cube.wav", signal[None], 16000)
    with pytest.warns(UserWarning, match="Format is determined by the file extension"):
        torchaudio.save(tmp_path / "really.flac", signal, 16000, format="wav")
    assert soundfile.info(str(tmp_path / "really.flac")).format == "FLAC"
    with pytest.raises(RuntimeError, match="^Failed to save audio to .*no_extension: "):  # as natively
        torchaudio.save(tmp_path / "no_extension", signal, 16000, format="wav")
    assert not (tmp_path / "no_extension").exists()


@pytest.mark.needs_broken_ffmpeg
def test_broken_unsupported_format_names_both_attempts(tmp_path):
    with pytest.raises(ValueError) as raised:
        torchaudio.save(tmp_path / "song.xyz", torch.zeros(2, 100), 16000)
    error = raised.value
    assert isinstance(error, policy.AudioFormatError) and isinstance(error, RuntimeError)
    assert str(error).startswith(f"Failed to save audio to {tmp_path / 'song.xyz'}: ")  # native's words first
    assert "Native torchaudio: unavailable" in str(error) and "Could not load libtorchcodec" in str(error)
    assert "flac" in str(error) and "wav" in str(error)  # the formats that are available
    assert isinstance(error.__cause__, codecs.UnsupportedFormat)
    assert not (tmp_path / "song.xyz").exists()


@pytest.mark.needs_broken_ffmpeg
def test_broken_corrupt_file_names_both_attempts(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    with pytest.raises(RuntimeError) as raised:
        torchaudio.load(corrupt)
    assert isinstance(raised.value, policy.AudioBackendError)
    message = str(raised.value)
    assert message.startswith(f"Failed to create AudioDecoder for {corrupt}: ")
    assert "Native torchaudio: unavailable (RuntimeError: Could not load libtorchcodec" in message
    assert "Fallback" in message and "corrupt.wav" in message
    assert isinstance(raised.value.__cause__, codecs.DecodeError)


@pytest.mark.needs_broken_ffmpeg
def test_broken_info_restored(material):
    assert registry.original("audio.info") is registry.MISSING  # torchaudio 2.11 has no info
    info = torchaudio.info(material["ogg_44k_stereo"])
    assert isinstance(info, codecs.AudioInfo)
    assert info.encoding == "VORBIS" and info.num_channels == 2


COUNTING = """
import json, logging, warnings
logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(message)s")
import sys
sys.path.insert(0, {tests!r})
import torch, torchaudio, acestep_winpatch
from audio_material import write_material
files = write_material({folder!r}, ["wav_pcm16_44k_stereo", "mp3_44k_stereo"])
native_lwt = torchaudio.load_with_torchcodec.__wrapped__.__code__
native_calls = []
sys.setprofile(lambda frame, event, arg: native_calls.append(1) if event == "call" and frame.f_code is native_lwt else None)
for _ in range(10):
    for path in files.values():
        torchaudio.load(path)
sys.setprofile(None)
for i in range(5):
    torchaudio.save({folder!r} + f"/out{{i}}.wav", torch.zeros(2, 100), 16000)
status = acestep_winpatch.status()
print("RESULT", json.dumps({{"native_calls": len(native_calls), "fallbacks": status["fallbacks"],
                            "notes": status["notes"]}}))
"""


@pytest.mark.needs_broken_ffmpeg
def test_broken_counts_remembers_and_warns_once(python, tmp_path):
    import os

    code = COUNTING.format(tests=os.path.dirname(__file__), folder=str(tmp_path))
    result = python(code, env={"ACESTEP_WINPATCH_LOG_LEVEL": None})
    report = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert report["native_calls"] == 1  # the first call learns; the other 19 go straight to the fallback
    assert report["fallbacks"]["audio.load"]["count"] == 20
    assert report["fallbacks"]["audio.save"]["count"] == 5
    assert "Could not load libtorchcodec" in report["fallbacks"]["audio.load"]["first_reason"]
    assert "using the fallback for this process" in report["notes"]["audio.load"]
    warnings_logged = [line for line in result.stderr.splitlines() if line.startswith("LOG acestep_winpatch")]
    assert len(warnings_logged) == 2, warnings_logged  # one for load, one for save
    assert any("audio.load fell back" in line for line in warnings_logged)


EARLY_BINDING = """
import sys
from torchaudio import load as bound_early   # bound before the plugin exists
import acestep_winpatch, torchaudio
waveform, sample_rate = bound_early({path!r})
print("RESULT", tuple(waveform.shape), sample_rate, acestep_winpatch.status()["fallbacks"]["audio.load_with_torchcodec"]["count"])
"""


@pytest.mark.needs_broken_ffmpeg
def test_broken_load_bound_before_the_plugin_is_covered(python, material):
    result = python(EARLY_BINDING.format(path=str(material["wav_pcm16_44k_stereo"])))
    assert "RESULT (2, 44100) 44100 1" in result.stdout


@pytest.mark.needs_broken_ffmpeg
def test_broken_disabled_patch_leaves_torchaudio_failing(python, material):
    code = f"""
import acestep_winpatch, torchaudio
try:
    torchaudio.load({str(material['wav_short'])!r})
except RuntimeError as error:
    print("NATIVE", str(error).splitlines()[0])
"""
    result = python(code, env={"ACESTEP_WINPATCH_DISABLE": "audio"})
    assert "NATIVE Could not load libtorchcodec" in result.stdout


def test_no_warning_escapes_a_plain_load(material):
    """Nothing but the plugin's own once-per-process notice (tests/test_notices.py) when it falls back."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", acestep_winpatch.FallbackWarning)
        torchaudio.load(material["wav_pcm16_44k_stereo"])


def decoders_during(call):
    """``{read kind: {decoder: reads}}`` that ``status()`` counted while ``call()`` ran."""
    before = acestep_winpatch.status()["decoders"]
    call()
    after = acestep_winpatch.status()["decoders"]
    return {kind: {name: n - before.get(kind, {}).get(name, 0) for name, n in served.items()
                   if n > before.get(kind, {}).get(name, 0)}
            for kind, served in after.items() if served != before.get(kind)}


@pytest.mark.parametrize("channels_first", [True, False])
def test_status_names_the_decoder_that_served(material, ffmpeg_works, channels_first):
    """Issue 11.5: 8-bit WAV through the built-in reader (it failed with channels_first=True and
    the chain hid it behind libsndfile); where FFmpeg works, torchaudio itself."""
    served = decoders_during(lambda: torchaudio.load(material["wav_u8_16k_mono"], channels_first=channels_first))
    assert served == {"audio.load": {"torchaudio" if ffmpeg_works else "wav": 1}}
    served = decoders_during(lambda: torchaudio.info(material["flac_16_44k_stereo"]))
    assert served == {"audio.info": {"soundfile": 1}}  # torchaudio 2.11 has no info: the restored one read it


def test_doctor_audio_checks_name_their_decoders(ffmpeg_works):
    from acestep_winpatch.doctor import checks

    results = checks.run(acestep_winpatch.status)
    expected = {"wav": "wav", "flac": "soundfile", "mp3": "soundfile", "ogg": "pyav"}
    for extension, fallback_decoder in expected.items():
        result = results[f"audio {extension}"]
        assert result["decoders"]["audio.load"] == {"torchaudio" if ffmpeg_works else fallback_decoder: 1}, result
        assert "decoded: " in result["detail"] and "load by " in result["detail"], result


def test_compression_is_torchcodecs_bit_rate(tmp_path):
    """torchaudio 2.11 passes ``compression`` to FFmpeg as a bit rate: MP3 follows it, FLAC ignores it."""
    noise = torch.rand(2, 48000) - 0.5
    sizes = {}
    for extension, levels in (("flac", (0, 8)), ("mp3", (32000, 320000))):
        for level in levels:
            path = tmp_path / f"level {level}.{extension}"
            torchaudio.save(path, noise, 48000, compression=level)
            sizes[extension, level] = path.stat().st_size
    assert sizes["flac", 0] == sizes["flac", 8]
    assert sizes["mp3", 320000] > 5 * sizes["mp3", 32000]
