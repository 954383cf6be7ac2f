"""The README's demo, end to end: an unmodified ACE-Step-like script in a really broken
torchaudio (no FFmpeg) with a compiler that does not exist, without and then with the plugin."""

import os
import subprocess
import sys

import pytest

from startup_sandbox import clean_environment

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "acestep_like.py")


def run(*command, **extra):
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=300,
                          env=clean_environment({"CXX": "/nonexistent/cl", **extra}))


@pytest.mark.needs_broken_ffmpeg
def test_the_script_loses_the_song_without_the_plugin():
    result = run(SCRIPT, ACESTEP_WINPATCH="0")
    assert result.returncode != 0
    assert "RuntimeError: Could not load libtorchcodec" in result.stderr
    assert "saved" not in result.stdout


@pytest.mark.needs_broken_ffmpeg
def test_the_script_runs_through_the_launcher():
    result = run("-m", "acestep_winpatch", "run", SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("saved ") and lines[0].endswith("generated song.wav"), lines
    assert lines[1] == "loaded  shape=(2, 96000) sr=48000 duration=2.00 s", lines
    assert lines[2] == "model   output shape=(3, 4)", lines
