#!/usr/bin/env bash
# The demo: real ACE-Step 1.5 code (ace-step15-fork from the package index, unmodified) in a
# process whose torchaudio is really broken (torchaudio 2.11 with no loadable FFmpeg, as on
# Windows) and whose C++ compiler does not exist (CXX=/nonexistent/cl, as on Windows without
# MSVC). First without the plugin, then with it; then an ACE-Step v1-like script (CUDA calls,
# a compiled model) with it; then the doctor's diagnosis. Sets up its venvs on a fresh machine
# (FFmpeg is not fetched: nothing here uses it), and removes every file it writes.
set -uo pipefail
cd "$(dirname "$0")/.."
eval "$(WINPATCH_FFMPEG=0 bash scripts/setup_env.sh main)" || exit 1
eval "$(bash scripts/setup_env.sh acestep15)" || exit 1
python=$WINPATCH_VENV/bin/python
work=$(mktemp -d "${TMPDIR:-/tmp}/acestep_winpatch_demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export CXX=/nonexistent/cl LD_LIBRARY_PATH= TORCHINDUCTOR_CACHE_DIR="$work/inductor-cache" LOGURU_LEVEL=ERROR

echo "=== 1. without the plugin: python examples/acestep15_song.py ==="
ACESTEP_WINPATCH=0 "$python" examples/acestep15_song.py "$work/without" 2>/dev/null
echo
echo "=== 2. with the plugin: python -m acestep_winpatch run examples/acestep15_song.py ==="
"$python" -m acestep_winpatch run examples/acestep15_song.py "$work/with" || exit 1
echo
echo "=== 3. ACE-Step v1's calls, with the plugin: python -m acestep_winpatch run examples/acestep_like.py ==="
"$python" -m acestep_winpatch run examples/acestep_like.py || exit 1
echo
echo "=== 4. python -m acestep_winpatch doctor ==="
"$python" -m acestep_winpatch doctor
