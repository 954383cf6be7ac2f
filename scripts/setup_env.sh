#!/usr/bin/env bash
# Prepare the test environment without touching the system:
#   * a venv kept outside the clone (reused when its pins match), with the
#     torchaudio >= 2.9 trio: torch 2.11.0, torchaudio 2.11.0, torchcodec 0.11.1;
#   * Debian's FFmpeg 5.1 shared libraries, fetched with `apt-get download` and
#     unpacked with `dpkg -x` into a private folder. They are never installed
#     system-wide: a process sees them only when given FFMPEG_LD_LIBRARY_PATH.
# Prints nothing on stdout but the two `export` lines the caller evaluates.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${ACESTEP_WINPATCH_CACHE_DIR:-$HOME/.cache/acestep_winpatch_dev}
venv=$cache/venv-torch2.11
ffmpeg=$cache/ffmpeg5.1
pins="torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1"
tools="librosa==0.11.0 soundfile wrapt numpy pytest hypothesis psutil av"
mkdir -p "$cache"

log() { echo "[setup] $*" >&2; }

stamp="$pins $tools"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$stamp" ]; then
  log "creating venv $venv (about 60 s, 5 GB)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $pins $tools >&2
  echo "$stamp" > "$venv/.pins"
fi
"$venv/bin/pip" install -q --no-deps -e "$here" >&2

if [ ! -f "$ffmpeg/.complete" ]; then
  log "fetching FFmpeg 5.1 shared libraries into $ffmpeg (private, not installed)"
  rm -rf "$ffmpeg"; mkdir -p "$ffmpeg/debs"
  if ! apt-get install -s -y --no-install-recommends libavcodec59 >/dev/null 2>&1 \
     || [ -z "$(apt-cache policy libavcodec59 2>/dev/null | grep Candidate)" ]; then
    apt-get update -qq >&2
  fi
  pkgs=$(apt-get install -s -y --no-install-recommends \
           libavdevice59 libavfilter8 libavformat59 libavcodec59 libavutil57 libswscale6 libswresample4 \
         | awk '/^Inst /{print $2}')
  (cd "$ffmpeg/debs" && apt-get download $pkgs >&2)
  for deb in "$ffmpeg"/debs/*.deb; do dpkg -x "$deb" "$ffmpeg/root"; done
  rm -rf "$ffmpeg/debs"
  touch "$ffmpeg/.complete"
fi
lib=$ffmpeg/root/usr/lib/x86_64-linux-gnu
echo "export WINPATCH_VENV='$venv'"
echo "export FFMPEG_LD_LIBRARY_PATH='$lib:$lib/blas:$lib/lapack:$lib/pulseaudio'"
