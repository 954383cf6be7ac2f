"""The torchaudio load/save/info policy on torchaudio >= 2.9, in both real environments.

Working environment (FFmpeg visible): the patched functions return torchaudio's own results
and nothing falls back. Broken environment (FFmpeg not loadable, the real Windows failure):
every call pattern works through the fallback and keeps the torchaudio contract. Counting
and the one-warning rule are checked in fresh interpreters, where nothing has fallen back yet.
"""

import io
import json
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
        assert raised.value.filename == str(missing)


def test_corrupt_file_raises(tmp_path):
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 8)
    with pytest.raises(RuntimeError):
        torchaudio.load(corrupt)


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
    torchaudio.save(tmp_path / "float.wav", signal, 16000, encoding="PCM_F", bits_per_sample=32)
    assert soundfile.info(str(tmp_path / "float.wav")).subtype == "FLOAT"  # honoured by the fallback
    with pytest.warns(UserWarning, match="Format is determined by the file extension"):
        torchaudio.save(tmp_path / "really.flac", signal, 16000, format="wav")
    assert soundfile.info(str(tmp_path / "really.flac")).format == "FLAC"
    torchaudio.save(tmp_path / "no_extension", signal, 16000, format="wav")  # format= fills in
    assert soundfile.info(str(tmp_path / "no_extension")).format == "WAV"


@pytest.mark.needs_broken_ffmpeg
def test_broken_unsupported_format_names_both_attempts(tmp_path):
    with pytest.raises(ValueError) as raised:
        torchaudio.save(tmp_path / "song.xyz", torch.zeros(2, 100), 16000)
    error = raised.value
    assert isinstance(error, policy.AudioFormatError) and isinstance(error, RuntimeError)
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
