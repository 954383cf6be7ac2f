"""Shared test machinery.

The suite runs in two real environments (see ``.ci/run``): FFmpeg's shared libraries
visible (native torchaudio works) and not visible (torchaudio >= 2.9 fails exactly as on
Windows). ``WINPATCH_EXPECT_FFMPEG`` says which one this run is meant to be; the session
starts by proving it, so the broken-case tests can never pass against a working FFmpeg.
"""

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXPECT_FFMPEG = os.environ.get("WINPATCH_EXPECT_FFMPEG")
# scripts/test.sh sets this: there, a missing companion venv fails the test instead of skipping it.
REQUIRE_ENVIRONMENTS = os.environ.get("WINPATCH_REQUIRE_ENVIRONMENTS") == "1"
DEV_CACHE = Path(os.environ.get("WINPATCH_DEV_CACHE") or Path.home() / ".cache" / "acestep_winpatch_dev")

# Where a venv keeps its interpreter: Scripts\python.exe on Windows, bin/python elsewhere.
VENV_INTERPRETER = Path("Scripts", "python.exe") if os.name == "nt" else Path("bin", "python")

pytest_plugins = ("audio_material",)  # the session fixtures ``wav``, ``material`` and ``long_material``
# Windows itself: collected there only (CI runs it under Wine, scripts/windows/test.sh).
collect_ignore = [] if sys.platform == "win32" else ["test_windows.py"]


@functools.cache
def ffmpeg_loadable():
    """Whether torchcodec can load FFmpeg in a fresh process, and the error line if not."""
    code = "import torchcodec.decoders"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stderr.splitlines() if "Error" in line and not line.startswith(" ")]
    return result.returncode == 0, errors[-1] if errors else ""


@pytest.fixture(scope="session", autouse=True)
def declared_environment():
    """Fail the whole run if the environment is not the one it claims to be."""
    if EXPECT_FFMPEG is None:
        return None
    loadable, detail = ffmpeg_loadable()
    expected = EXPECT_FFMPEG == "1"
    assert loadable == expected, f"WINPATCH_EXPECT_FFMPEG={EXPECT_FFMPEG} but FFmpeg loadable={loadable}: {detail}"
    return loadable


@pytest.fixture(scope="session")
def ffmpeg_works():
    """Whether FFmpeg loads in this run, whatever it declares (for tests valid in both)."""
    return ffmpeg_loadable()[0]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "needs_ffmpeg" in item.keywords and EXPECT_FFMPEG != "1":
            item.add_marker(pytest.mark.skip(reason="needs the environment where FFmpeg is visible"))
        if "needs_broken_ffmpeg" in item.keywords and EXPECT_FFMPEG != "0":
            item.add_marker(pytest.mark.skip(reason="needs the environment where FFmpeg cannot be loaded"))


def venv_python(name):
    """The interpreter of the companion venv ``name`` (``scripts/setup_env.sh NAME``: ``era28`` is
    torch 2.8, ``cpu`` the CPU-only build). Skips the test where it is missing, except under
    ``scripts/test.sh``, where a missing one is a failure."""
    python = DEV_CACHE / f"venv-{name}" / VENV_INTERPRETER
    if not python.exists():
        message = f"venv-{name} is missing ({python}); create it with scripts/setup_env.sh {name}"
        if REQUIRE_ENVIRONMENTS:
            pytest.fail(message)
        pytest.skip(message)
    return str(python)


def run_python(code, *args, env=None, cwd=None, timeout=300, check=True):
    """Run ``code`` in a fresh interpreter of this venv; return the CompletedProcess.

    ``env`` entries are added to (``None`` values removed from) the current environment.
    """
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def python():
    """The ``run_python`` helper, as a fixture."""
    return run_python
