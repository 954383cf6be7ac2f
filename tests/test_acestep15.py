"""Real ACE-Step 1.5 (``ace-step15-fork`` from the package index, unmodified) in the broken environment.

venv-acestep15 (``scripts/setup_env.sh acestep15``) is venv-main's torch 2.11 trio plus ACE-Step
1.5's code; every run here hides FFmpeg (``LD_LIBRARY_PATH=``), points inductor at a compiler
that does not exist (``CXX=/nonexistent/cl``) with a fresh cache, and runs ``acestep15_paths.py``:
its saver and converter, the dataset builder's scan (durations from ``torchaudio.info``), the
training dataset's audio loading and nano-vllm's ``@torch.compile`` layers. Once without the
plugin, once through each activation from outside (launcher, ``.pth``), once eagerly
(``TORCHDYNAMO_DISABLE=1``) as the reference the layers must match.
"""

import json
import math
import subprocess

import numpy
import pytest
import soundfile
import torch

from conftest import venv_python
from startup_sandbox import Sandbox, clean_environment, describe

pytestmark = [pytest.mark.needs_broken_ffmpeg, pytest.mark.slow]

PATHS = __import__("pathlib").Path(__file__).with_name("acestep15_paths.py")
NO_LIBTORCHCODEC = "RuntimeError: Could not load libtorchcodec. Likely causes:"
NO_COMPILER = "InductorError: InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx: (None, '/nonexistent/cl')"
LAYERS = ["add_rms", "rms", "rms_input_after_call", "rotary", "sampler", "silu_and_mul"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each run's JSON report and output folder, by mode."""
    python = venv_python("acestep15")
    folder = tmp_path_factory.mktemp("acestep15")
    source = folder / "source"
    source.mkdir()
    time = numpy.arange(3 * 48000) / 48000
    song = numpy.stack([0.5 * numpy.sin(2 * math.pi * 440 * time), 0.25 * numpy.sin(2 * math.pi * 660 * time)], 1)
    for extension in ("wav", "flac"):
        soundfile.write(source / f"song.{extension}", song, 48000, subtype="PCM_16")
    sandbox = Sandbox(folder / "sandbox")  # the plugin installed and activated by its .pth line...
    acestep15_libraries = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                         capture_output=True, text=True, check=True).stdout.strip()
    sandbox.add_pth("aac_acestep15", acestep15_libraries)  # ...beside ACE-Step 1.5
    subprocess.run([str(sandbox.python), "-m", "acestep_winpatch", "install-pth"], check=True,
                   capture_output=True, env=clean_environment())
    commands = {
        "without": ([python, str(PATHS)], {"ACESTEP_WINPATCH": "0"}),
        "eager": ([python, str(PATHS)], {"ACESTEP_WINPATCH": "0", "TORCHDYNAMO_DISABLE": "1"}),
        "launcher": ([python, "-m", "acestep_winpatch", "run", str(PATHS)], {}),
        "pth": ([str(sandbox.python), str(PATHS)], {}),
    }
    results = {}
    for mode, (command, env) in commands.items():
        output = folder / mode
        output.mkdir()
        env = {"CXX": "/nonexistent/cl", "LD_LIBRARY_PATH": "", "TORCHINDUCTOR_CACHE_DIR": str(folder / f"cache-{mode}"),
               **env}
        result = subprocess.run(command + [str(source), str(output)], capture_output=True, text=True,
                                env=clean_environment(env), cwd=folder, timeout=400)
        assert result.returncode == 0, describe(result)
        results[mode] = (json.loads(result.stdout.strip().splitlines()[-1]), output)
    return results


def test_without_the_plugin_each_path_fails_or_degrades_as_users_report(runs):
    report, _ = runs["without"]
    # The saver swallows torchaudio's error and falls back to soundfile's defaults: 16-bit FLAC.
    assert report["saver"]["subtype"] == "PCM_16"
    assert report["converter"] == {"error": NO_LIBTORCHCODEC}
    assert report["dataset_builder"] == {"song.flac": 0, "song.wav": 0}  # torchaudio.info is gone: "0 s"
    assert report["training_dataset"] == {"error": NO_LIBTORCHCODEC}
    assert report["nanovllm"] == {"ran": [], "errors": {name: NO_COMPILER for name in LAYERS}}


@pytest.mark.parametrize("activation", ["launcher", "pth"])
def test_with_the_plugin_each_path_returns_the_right_audio(runs, activation):
    report, _ = runs[activation]
    assert report["activated_by"] == [activation]
    saver = report["saver"]
    assert (saver["path"], saver["subtype"], saver["rate"]) == ("generated song.flac", "PCM_24", 48000)
    assert saver["max_error"] < 2 ** -22  # 24-bit, as torchaudio writes float input to FLAC
    assert report["converter"] == {"path": "converted.flac", "rate": 48000, "frames": 3 * 48000, "max_error": 0.0}
    assert report["dataset_builder"] == {"song.flac": 3, "song.wav": 3}
    assert report["training_dataset"] == {"shape": [2, 5 * 48000], "max_error": 0.0, "padding_is_silent": True}
    assert report["nanovllm"] == {"ran": LAYERS, "errors": {}}


@pytest.mark.parametrize("activation", ["launcher", "pth"])
def test_nanovllm_layers_give_the_eager_result_in_place_effects_and_random_numbers_included(runs, activation):
    (_, ours), (eager_report, eager) = runs[activation], runs["eager"]
    assert eager_report["nanovllm"]["errors"] == {}
    ours, eager = torch.load(ours / "layers.pt"), torch.load(eager / "layers.pt")
    assert sorted(ours) == sorted(eager) == LAYERS
    for name in LAYERS:
        mine, reference = ours[name], eager[name]
        mine, reference = (mine, reference) if isinstance(mine, (tuple, list)) else ((mine,), (reference,))
        assert len(mine) == len(reference), name
        assert all(torch.equal(a, b) for a, b in zip(mine, reference)), name
