"""The README demo's first command, end to end: real ACE-Step 1.5 (``examples/acestep15_song.py``)
in the really broken environment, without and then with the plugin, as ``scripts/demo.sh`` runs it."""

import os
import subprocess

import pytest

from conftest import venv_python
from startup_sandbox import REPOSITORY, clean_environment

SCRIPT = str(REPOSITORY / "examples" / "acestep15_song.py")


def run(tmp_path, *command, **extra):
    env = clean_environment({"CXX": "/nonexistent/cl", "LD_LIBRARY_PATH": "", "LOGURU_LEVEL": "ERROR",
                             "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor-cache"), **extra})
    result = subprocess.run([venv_python("acestep15"), *command], capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


@pytest.mark.needs_broken_ffmpeg
def test_without_the_plugin_ace_step_loses_quality_audio_durations_and_its_compiled_layer(tmp_path):
    lines = run(tmp_path, SCRIPT, str(tmp_path / "songs"), ACESTEP_WINPATCH="0")
    assert lines == [
        "saved     generated song.flac (PCM_16)",
        "converted FAILED: RuntimeError: Could not load libtorchcodec. Likely causes:",
        "scanned   generated song.flac: 0 s",
        "compiled  FAILED: InductorError: InvalidCxxCompiler: No working C++ compiler found in "
        "torch._inductor.config.cpp.cxx: (None, '/nonexistent/cl')",
    ]


@pytest.mark.needs_broken_ffmpeg
def test_with_the_plugin_every_step_works(tmp_path):
    lines = run(tmp_path, "-m", "acestep_winpatch", "run", SCRIPT, str(tmp_path / "songs"))
    assert lines == [
        "saved     generated song.flac (PCM_24)",
        "converted song.wav (96000 frames)",
        "scanned   generated song.flac: 2 s, song.wav: 2 s",
        "compiled  RMSNorm output shape=(3, 64), equal to the formula: True",
    ]
    assert sorted(os.listdir(tmp_path / "songs")) == ["generated song.flac", "song.wav"]
