#!/usr/bin/env bash
# The Windows lane of CI: the Windows-relevant tests on the official embeddable CPython 3.11.9
# with the real Windows wheels of torch 2.11 (CPU build), torchaudio and torchcodec, under Wine.
#   bash scripts/windows/test.sh                            # the lane's selection (scripts/windows/tests.txt)
#   bash scripts/windows/test.sh tests/test_windows.py -x   # arguments replace the selection
# scripts/windows/setup.sh prepares (or reuses) Wine, the interpreter and the wheels outside the
# clone. Then the working tree (tracked files and untracked ones git does not ignore) is staged
# at C:\acestep_winpatch, the project's wheel is built there on the Linux side and installed
# into the embeddable Python with its pip, and pytest runs under that Python from the stage.
# Nothing in the clone is written by a Windows process. Exits with pytest's status.
set -uo pipefail
cd "$(dirname "$0")/../.."
repository=$(pwd)
started=$(date +%s)
eval "$(bash scripts/windows/setup.sh)" || { echo "[windows lane] setup failed" >&2; exit 1; }
python=scripts/windows/python.sh

stage=$WINEPREFIX/drive_c/acestep_winpatch
rm -rf "$stage" && mkdir -p "$stage/dist"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -f "$file" ] && install -D -m 644 "$file" "$stage/$file"
done
python3 -m pip wheel -q -q --no-deps --no-index --find-links "$WINPATCH_WINDOWS_WHEELS" \
  -w "$stage/dist" "$stage" >&2 || { echo "[windows lane] building the wheel failed" >&2; exit 1; }
wheel=$(cd "$stage/dist" && ls acestep_winpatch-*.whl)
rm -rf "$stage/build" "$stage"/*.egg-info
bash "$python" -m pip install -q --no-index --no-deps --force-reinstall --no-warn-script-location \
  "C:\\acestep_winpatch\\dist\\$wheel" || { echo "[windows lane] installing $wheel failed" >&2; exit 1; }

if [ $# -gt 0 ]; then
  selection=("$@")
else
  mapfile -t selection < <(grep -v -e '^#' -e '^$' "$repository/scripts/windows/tests.txt")
fi
bash "$python" "C:\\acestep_winpatch\\scripts\\windows\\keep_desktop.py" \
  "C:\\acestep_winpatch\\desktop-ready" "C:\\acestep_winpatch\\lane-finished" >/dev/null 2>&1 &
for _ in $(seq 120); do [ -f "$stage/desktop-ready" ] && break; sleep 1; done
[ -f "$stage/desktop-ready" ] || { echo "[windows lane] Wine's desktop did not start" >&2; exit 1; }
echo "=== Windows: embeddable CPython 3.11.9 under $(wine --version), torch 2.11.0+cpu, no FFmpeg DLLs ==="
# -B: the stage stays as it was copied (bytecode of the tests is not written next to them).
# The temporary folders live in the stage too, so each run replaces the last one's.
(cd "$stage" && WINPATCH_EXPECT_FFMPEG=0 WINPATCH_REQUIRE_ENVIRONMENTS=1 \
  timeout 3000 bash "$repository/$python" -B -m pytest -p no:cacheprovider -q -rfE -m "not needs_ffmpeg" \
    --basetemp 'C:\acestep_winpatch\pytest temp' "${selection[@]}")
status=$?
touch "$stage/lane-finished"
wineserver -w
echo "[windows lane] exit status $status after $(( $(date +%s) - started )) s" >&2
exit $status
