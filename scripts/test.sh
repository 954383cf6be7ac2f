#!/usr/bin/env bash
# Set up every test environment (reused when present) and run the whole suite:
#   1. torch 2.11 with FFmpeg visible      -> native torchaudio works; results must be torchaudio's own
#   2. torch 2.11 without FFmpeg           -> the real Windows-like "Could not load libtorchcodec"
#   3. torch 2.8 (backend-dispatch era)    -> the audio tests of that era
#   4. torch 2.13 CPU-only build           -> "Torch not compiled with CUDA enabled" for real
# Each run first asserts which environment it is in (tests/conftest.py). Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

era28_tests="tests/test_audio_era28.py"
cpu_tests="tests/test_cuda.py tests/test_device.py"

status=0
run() {  # run LABEL PYTHON EXPECT_FFMPEG LD_PATH ARGS...
  local label=$1 python=$2 expect=$3 ld=$4; shift 4
  echo "=== $label ==="
  env LD_LIBRARY_PATH="$ld" WINPATCH_EXPECT_FFMPEG="$expect" "$python" -m pytest -q -p no:cacheprovider "$@" || status=1
}

eval "$(bash scripts/setup_env.sh main)" || exit 1
main_python=$WINPATCH_VENV/bin/python
run "torch 2.11, FFmpeg visible (native torchaudio works)" "$main_python" 1 "$FFMPEG_LD_LIBRARY_PATH" "$@"
run "torch 2.11, FFmpeg not loadable (Windows-like)" "$main_python" 0 "" "$@"

eval "$(bash scripts/setup_env.sh era28)" || exit 1
# shellcheck disable=SC2086
run "torch 2.8 (backend-dispatch era), FFmpeg not loadable" "$WINPATCH_VENV/bin/python" 0 "" $era28_tests "$@"

eval "$(bash scripts/setup_env.sh cpu)" || exit 1
# shellcheck disable=SC2086
run "torch 2.13 CPU-only build" "$WINPATCH_VENV/bin/python" "" "" $cpu_tests "$@"

exit $status
