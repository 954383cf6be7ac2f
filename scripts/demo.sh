#!/usr/bin/env bash
# The demo: an unmodified ACE-Step-like script in a process whose torchaudio is really broken
# (torchaudio 2.11 with no loadable FFmpeg, as on Windows) and whose C++ compiler does not exist
# (CXX=/nonexistent/cl, as on Windows without MSVC). First without the plugin, then with it,
# then the doctor's diagnosis of the same environment.
set -uo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup_env.sh main)" || exit 1
python=$WINPATCH_VENV/bin/python
export CXX=/nonexistent/cl LD_LIBRARY_PATH=

echo "=== 1. without the plugin: python examples/acestep_like.py ==="
ACESTEP_WINPATCH=0 "$python" examples/acestep_like.py >/tmp/acestep_like.$$ 2>&1
echo "exit status $?, after:"
grep -E "^(saved|loaded|model) " /tmp/acestep_like.$$ || echo "(nothing: the song was never saved)"
grep -m 1 -E "^[A-Za-z_.]+Error: " /tmp/acestep_like.$$
rm -f /tmp/acestep_like.$$
echo
echo "=== 2. with the plugin: python -m acestep_winpatch run examples/acestep_like.py ==="
ACESTEP_WINPATCH_LOG_LEVEL=WARNING "$python" -m acestep_winpatch run examples/acestep_like.py || exit 1
echo
echo "=== 3. python -m acestep_winpatch doctor ==="
"$python" -m acestep_winpatch doctor
