#!/usr/bin/env bash
# Prepare a test environment without touching the system. Usage: setup_env.sh [main|era28|cpu]
#   main  : torch 2.11.0 + torchaudio 2.11.0 + torchcodec 0.11.1 (the TorchCodec era, >= 2.9)
#   era28 : torch 2.8.0 + torchaudio 2.8.0, no torchcodec (the backend-dispatch era, 2.5 to 2.8)
#   cpu   : torch 2.13.0+cpu, the CPU-only build (its wheel lies in /opt/wheels on these machines),
#           no torchaudio (like the default pip torch on Windows:
#           torch.cuda.synchronize() raises "Torch not compiled with CUDA enabled")
# Venvs are kept outside the clone and reused while their pins match. Debian's FFmpeg 5.1
# shared libraries are fetched with `apt-get download` and unpacked with `dpkg -x` into a
# private folder: never installed system-wide, visible only through FFMPEG_LD_LIBRARY_PATH.
# Prints nothing on stdout but the `export` lines the caller evaluates.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-main}
cache=${WINPATCH_DEV_CACHE:-$HOME/.cache/acestep_winpatch_dev}
tools="librosa==0.11.0 soundfile wrapt numpy pytest hypothesis psutil av"
case "$flavour" in
  main)  pins="torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1" ;;
  era28) pins="torch==2.8.0 torchaudio==2.8.0" ;;
  cpu)   pins="torch==2.13.0+cpu"; tools="librosa==0.11.0 soundfile wrapt numpy pytest psutil" ;;
  *) echo "unknown environment: $flavour" >&2; exit 2 ;;
esac
venv=$cache/venv-$flavour
ffmpeg=$cache/ffmpeg5.1
mkdir -p "$cache"

log() { echo "[setup $flavour] $*" >&2; }

stamp="$pins $tools"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$stamp" ]; then
  log "creating venv $venv (about 60 s and several GB)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $pins $tools >&2
  echo "$stamp" > "$venv/.pins"
fi
"$venv/bin/pip" install -q --no-deps -e "$here" >"$cache/editable-install.log" 2>&1 \
  || { cat "$cache/editable-install.log" >&2; exit 1; }

if [ ! -f "$ffmpeg/.complete" ]; then
  log "fetching FFmpeg 5.1 shared libraries into $ffmpeg (private, not installed)"
  rm -rf "$ffmpeg"; mkdir -p "$ffmpeg/debs"
  apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already here"
  pkgs=$(apt-get install -s -y --no-install-recommends \
           libavdevice59 libavfilter8 libavformat59 libavcodec59 libavutil57 libswscale6 libswresample4 \
         | awk '/^Inst /{print $2}')
  # shellcheck disable=SC2086
  (cd "$ffmpeg/debs" && apt-get download $pkgs >&2 2>/dev/null)
  for deb in "$ffmpeg"/debs/*.deb; do dpkg -x "$deb" "$ffmpeg/root"; done
  rm -rf "$ffmpeg/debs"
  touch "$ffmpeg/.complete"
fi
lib=$ffmpeg/root/usr/lib/x86_64-linux-gnu
echo "export WINPATCH_VENV='$venv'"
echo "export FFMPEG_LD_LIBRARY_PATH='$lib:$lib/blas:$lib/lapack:$lib/pulseaudio'"
