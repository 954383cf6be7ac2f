"""The torchaudio 2.5-2.8 era (backend dispatch, no torchcodec), in the torch 2.8 venv.

Each scenario runs in a fresh interpreter of ``venv-era28`` (``scripts/setup_env.sh era28``)
and reports JSON; the tests are skipped with the reason when that venv does not exist. The
"unavailable" cases are real: libsox and FFmpeg are not loadable there unless
FFMPEG is on LD_LIBRARY_PATH, and torchcodec is not installed. The no-backend-at-all case
starts torchaudio while ``soundfile`` cannot be imported (blocked in ``sys.modules`` before
torchaudio loads, as in an installation without it), then lets our fallback import it.
"""

import json
import os
import subprocess
import textwrap

import pytest

from audio_material import tone, write_file
from conftest import venv_python


PRELUDE = """
import json, sys, warnings
warnings.filterwarnings("ignore", message="In 2.9")
warnings.filterwarnings("ignore", category=UserWarning, message=".*deprecated")
BLOCK_SOUNDFILE = {block}
if BLOCK_SOUNDFILE:
    sys.modules["soundfile"] = None
import torch, torchaudio, acestep_winpatch
if BLOCK_SOUNDFILE:
    del sys.modules["soundfile"]
from acestep_winpatch import registry
from torchaudio._backend.utils import get_available_backends
out = {{"version": torchaudio.__version__, "backends": sorted(get_available_backends())}}

def attempt(call):
    try:
        return {{"ok": call()}}
    except Exception as error:
        return {{"error": type(error).__name__, "message": str(error)[:400],
                "file_not_found": isinstance(error, FileNotFoundError), "runtime": isinstance(error, RuntimeError),
                "cause": type(error.__cause__).__name__}}
"""


def run_era28(body, block_soundfile=False, ffmpeg_visible=False):
    env = dict(os.environ)
    if not ffmpeg_visible:
        env.pop("LD_LIBRARY_PATH", None)
    env.pop("ACESTEP_WINPATCH_DISABLE", None)
    code = textwrap.dedent(PRELUDE.format(block=block_soundfile)) + textwrap.dedent(body) + \
        '\nout["fallbacks"] = acestep_winpatch.status()["fallbacks"]\nprint("RESULT", json.dumps(out))\n'
    result = subprocess.run([venv_python("era28"), "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.split("RESULT ", 1)[1])


@pytest.fixture(scope="module")
def m4a(tmp_path_factory):
    """An AAC-in-MP4 file written with PyAV: a container libsndfile cannot read."""
    import av

    path = tmp_path_factory.mktemp("m4a") / "reference song.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(tone(1.0, 44100, 2), format="fltp", layout="stereo")
        frame.sample_rate = 44100
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def int16_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("era28") / "pcm16 stéréo.wav"
    write_file(path, 0.25, 16000, 2, "WAV", "PCM_16")
    return path


def test_native_soundfile_backend_results_are_torchaudios_own(int16_wav, tmp_path):
    out = run_era28(f"""
        path = {str(int16_wav)!r}
        native = registry.original("audio.load")
        ours, theirs = torchaudio.load(path), native(path)
        out["equal"] = torch.equal(ours[0], theirs[0]) and ours[1] == theirs[1]
        raw = torchaudio.load(path, normalize=False)[0]
        out["raw"] = [str(raw.dtype), torch.equal(raw, native(path, normalize=False)[0])]
        out["info"] = [type(torchaudio.info(path)).__name__, torchaudio.info(path).num_frames]
        torchaudio.save({str(tmp_path / 'a.wav')!r}, ours[0], 16000)
        out["corrupt"] = attempt(lambda: (open({str(tmp_path / 'bad.wav')!r}, "wb").write(b"RIFF0000WAVEjunk" * 8),
                                           torchaudio.load({str(tmp_path / 'bad.wav')!r}))[1])
        out["missing"] = attempt(lambda: torchaudio.load({str(tmp_path / 'missing.wav')!r}))
        out["one_d"] = attempt(lambda: torchaudio.save({str(tmp_path / 'b.wav')!r}, torch.zeros(100), 16000))
    """)
    assert out["version"].startswith("2.8") and out["backends"] == ["soundfile"]
    assert out["equal"] and out["raw"] == ["torch.int16", True]
    assert out["info"] == ["AudioMetaData", 4000]
    assert out["corrupt"]["error"] == "LibsndfileError"  # native's own error: no fallback for a bad file
    assert out["missing"]["file_not_found"] and out["missing"]["runtime"]
    assert out["missing"]["cause"] == "LibsndfileError"
    assert out["one_d"]["error"] == "ValueError" and out["one_d"]["message"] == "Expected 2D Tensor, got 1D."
    assert out["fallbacks"] == {}


def test_unavailable_backend_requested_falls_back_to_torchaudios_dispatch(int16_wav, tmp_path):
    out = run_era28(f"""
        path = {str(int16_wav)!r}
        native = registry.original("audio.load")
        out["native_sox"] = attempt(lambda: native(path, backend="sox"))
        out["sox"] = torch.equal(torchaudio.load(path, backend="sox")[0], native(path)[0])
        out["ffmpeg"] = torch.equal(torchaudio.load(path, backend="ffmpeg")[0], native(path)[0])
        out["bogus"] = attempt(lambda: torchaudio.load(path, backend="bogus"))
        torchaudio.save({str(tmp_path / 'out.ogg')!r}, torch.zeros(2, 4800), 48000, backend="sox")
        import soundfile
        out["ogg"] = soundfile.info({str(tmp_path / 'out.ogg')!r}).subtype
    """)
    assert out["native_sox"]["error"] == "ValueError" and "Unsupported backend 'sox'" in out["native_sox"]["message"]
    assert out["sox"] and out["ffmpeg"] and out["ogg"] == "VORBIS"
    assert out["bogus"]["error"] == "ValueError"  # an unknown name stays the caller's mistake
    assert out["fallbacks"]["audio.load"]["count"] == 2
    assert "'sox' is not available" in out["fallbacks"]["audio.load"]["first_reason"]
    assert out["fallbacks"]["audio.save"]["count"] == 1


def test_container_needing_the_missing_ffmpeg_backend(m4a):
    out = run_era28(f"""
        path = {str(m4a)!r}
        out["native"] = attempt(lambda: registry.original("audio.load")(path))
        waveform, sample_rate = torchaudio.load(path)
        out["load"] = [list(waveform.shape), sample_rate, float(waveform.pow(2).mean().sqrt())]
        info = torchaudio.info(path)
        out["info"] = [type(info).__module__, info.sample_rate, info.num_channels]
    """)
    assert out["native"]["error"] == "LibsndfileError" and "Format not recognised" in out["native"]["message"]
    channels, frames = out["load"][0]
    assert channels == 2 and abs(frames - 44100) <= 2048 and out["load"][1] == 44100 and out["load"][2] > 0.3
    assert out["info"] == ["torchaudio._backend.common", 44100, 2]
    assert "FFmpeg backend is unavailable" in out["fallbacks"]["audio.load"]["first_reason"]


@pytest.mark.needs_ffmpeg
def test_container_read_natively_when_ffmpeg_is_visible(m4a):
    out = run_era28(f"""
        path = {str(m4a)!r}
        out["equal"] = torch.equal(torchaudio.load(path)[0], registry.original("audio.load")(path)[0])
    """, ffmpeg_visible=True)
    assert "ffmpeg" in out["backends"] and out["equal"] and out["fallbacks"] == {}


def test_no_backend_at_all_keeps_the_28_contract(int16_wav, tmp_path):
    out = run_era28(f"""
        import soundfile, numpy as np
        path = {str(int16_wav)!r}
        out["native"] = attempt(lambda: registry.original("audio.load")(path))
        raw, _ = torchaudio.load(path, normalize=False)
        expected = soundfile.read(path, dtype="int16", always_2d=True)[0].T
        out["raw"] = [str(raw.dtype), bool(np.array_equal(raw.numpy(), expected))]
        floats, _ = torchaudio.load(path)
        out["float"] = str(floats.dtype)
        out["one_d"] = attempt(lambda: torchaudio.save({str(tmp_path / 'x.wav')!r}, floats[0], 16000))
        torchaudio.save({str(tmp_path / 'f.wav')!r}, floats, 16000)
        torchaudio.save({str(tmp_path / 'i.wav')!r}, raw, 16000)
        torchaudio.save({str(tmp_path / 'f.flac')!r}, floats, 16000)
        torchaudio.save({str(tmp_path / 'b24.wav')!r}, floats, 16000, encoding="PCM_S", bits_per_sample=24)
        out["subtypes"] = [soundfile.info({str(tmp_path)!r} + "/" + name).subtype
                           for name in ("f.wav", "i.wav", "f.flac", "b24.wav")]
        info = torchaudio.info(path)
        out["info"] = [type(info).__name__, info.num_frames, info.bits_per_sample, info.encoding]
        out["corrupt"] = attempt(lambda: (open({str(tmp_path / 'bad.wav')!r}, "wb").write(b"RIFF0000WAVEjunk" * 8),
                                           torchaudio.load({str(tmp_path / 'bad.wav')!r}))[1])
    """, block_soundfile=True)
    assert out["backends"] == []
    assert out["native"]["error"] == "RuntimeError" and "Couldn't find appropriate backend" in out["native"]["message"]
    assert out["raw"] == ["torch.int16", True] and out["float"] == "torch.float32"
    assert out["one_d"]["message"] == "Expected 2D Tensor, got 1D."
    assert out["subtypes"] == ["FLOAT", "PCM_16", "PCM_16", "PCM_24"]  # 2.8's soundfile backend defaults
    assert out["info"] == ["AudioMetaData", 4000, 16, "PCM_S"]
    assert out["corrupt"]["error"] == "AudioBackendError" and "Couldn't find appropriate backend" in out["corrupt"]["message"]
    assert out["fallbacks"]["audio.load"]["first_reason"].startswith("RuntimeError: Couldn't find appropriate backend")


def test_torchcodec_functions_without_torchcodec(int16_wav, tmp_path):
    out = run_era28(f"""
        path = {str(int16_wav)!r}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            waveform, _ = torchaudio.load_with_torchcodec(path, normalize=False)
        out["load"] = [str(waveform.dtype), [str(w.message) for w in caught if "normalize" in str(w.message)]]
        torchaudio.save_with_torchcodec({str(tmp_path / 'mono.flac')!r}, waveform[0], 16000)
        import soundfile
        info = soundfile.info({str(tmp_path / 'mono.flac')!r})
        out["save"] = [info.channels, info.subtype]
    """)
    assert out["load"][0] == "torch.float32" and len(out["load"][1]) == 1
    assert out["save"] == [1, "PCM_24"]  # the torchcodec contract: 1-D is mono, float FLAC is 24-bit
    reason = out["fallbacks"]["audio.load_with_torchcodec"]["first_reason"]
    assert reason.startswith("ImportError: TorchCodec is required for load_with_torchcodec")


ACESTEP_FORMATS = ["wav", "flac", "mp3", "ogg", "opus"]
# (container, subtype) each format ends up in: torchaudio 2.8's soundfile backend for the first
# four (float32 WAV is 32-bit float, FLAC 16-bit), the fallback writer for opus.
WRITTEN_AS = {"wav": ["WAV", "FLOAT"], "flac": ["FLAC", "PCM_16"], "mp3": ["MP3", "MPEG_LAYER_III"],
              "ogg": ["OGG", "VORBIS"], "opus": ["OGG", "OPUS"]}


@pytest.mark.parametrize("backend", ["ffmpeg", "sox"])
def test_every_acestep_format_with_a_backend_this_installation_lacks(tmp_path, m4a, backend):
    """Issue 11.3: ACE-Step 1.5 pins torchaudio 2.7 on Windows and saves with ``backend="ffmpeg"``;
    torchaudio's own dispatch then falls to soundfile, whose backend refuses opus
    (``ValueError: Unsupported format: opus``): the fallback writer serves that call."""
    out = run_era28(f"""
        import soundfile
        signal = torch.rand(2, 48000) - 0.5
        results = {{}}
        for extension in {ACESTEP_FORMATS!r}:
            path = {str(tmp_path)!r} + "/song." + extension
            saved = attempt(lambda: torchaudio.save(path, signal, 48000, backend={backend!r}))
            info = soundfile.info(path) if "ok" in saved else None
            loaded = attempt(lambda: (lambda waveform, rate: [list(waveform.shape), rate])(
                *torchaudio.load(path, backend={backend!r})))
            results[extension] = [saved, [info.format, info.subtype] if info else None, loaded]
        out["results"] = results
        out["m4a"] = attempt(lambda: list(torchaudio.load({str(m4a)!r}, backend={backend!r})[0].shape))
        out["opus_asked_of_soundfile"] = attempt(lambda: torchaudio.save(
            {str(tmp_path)!r} + "/explicit.opus", signal, 48000, backend="soundfile"))
    """)
    for extension in ACESTEP_FORMATS:
        saved, written, loaded = out["results"][extension]
        assert saved == {"ok": None} and written == WRITTEN_AS[extension], (extension, out["results"][extension])
        (channels, frames), rate = loaded["ok"]
        assert channels == 2 and rate == 48000 and abs(frames - 48000) <= 2048, (extension, loaded)
    assert out["m4a"]["ok"][0] == 2
    assert out["opus_asked_of_soundfile"]["error"] == "ValueError"  # the backend asked for by name answers
    assert out["opus_asked_of_soundfile"]["message"] == "Unsupported format: opus"
    reasons = {kind: entry["first_reason"] for kind, entry in out["fallbacks"].items()}
    assert f"{backend!r} is not available" in reasons["audio.load"] and f"{backend!r} is not available" in reasons["audio.save"]
    assert out["fallbacks"]["audio.save"]["count"] == 2  # the retry through torchaudio's dispatch, then opus
