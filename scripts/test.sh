#!/usr/bin/env bash
# Set up every test environment (reused when present) and run the whole suite twice:
#   1. torch 2.11 with FFmpeg visible  -> native torchaudio works; results must be torchaudio's own
#   2. torch 2.11 without FFmpeg       -> the real Windows-like "Could not load libtorchcodec"
# Each run first asserts which of the two it is in (tests/conftest.py). Two companion venvs are
# driven from inside the suite, in subprocesses: torch 2.8 (the backend-dispatch era) and the
# CPU-only torch 2.13 build ("Torch not compiled with CUDA enabled"); here a missing one fails
# the tests that need it instead of skipping them. Then the Windows lane (scripts/windows/test.sh):
# the Windows-relevant tests on the official embeddable CPython with the Windows torch wheels,
# under Wine (about 10 minutes more, 25 the first time). Extra arguments go to the Linux runs.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup_env.sh era28 >/dev/null || exit 1
bash scripts/setup_env.sh cpu >/dev/null || exit 1
bash scripts/setup_env.sh lightning >/dev/null || exit 1
eval "$(bash scripts/setup_env.sh main)" || exit 1
bash scripts/setup_env.sh acestep15 >/dev/null || exit 1
python=$WINPATCH_VENV/bin/python

status=0
run() {  # run LABEL EXPECT_FFMPEG LD_LIBRARY_PATH PYTEST_ARGS...
  local label=$1 expect=$2 ld=$3; shift 3
  echo "=== $label ==="
  env LD_LIBRARY_PATH="$ld" WINPATCH_EXPECT_FFMPEG="$expect" WINPATCH_REQUIRE_ENVIRONMENTS=1 \
    "$python" -m pytest -q -p no:cacheprovider "$@" || status=1
}
run "torch 2.11, FFmpeg visible (native torchaudio works)" 1 "$FFMPEG_LD_LIBRARY_PATH" "$@"
run "torch 2.11, FFmpeg not loadable (Windows-like)" 0 "" "$@"
bash scripts/windows/test.sh || status=1
exit $status
