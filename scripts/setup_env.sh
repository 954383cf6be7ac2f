#!/usr/bin/env bash
# Prepare a test environment without touching the system. Usage: setup_env.sh [main|era28|cpu]
#   main  : torch 2.11.0 + torchaudio 2.11.0 + torchcodec 0.11.1 (the TorchCodec era, >= 2.9)
#   era28 : torch 2.8.0 + torchaudio 2.8.0, no torchcodec (the backend-dispatch era, 2.5 to 2.8)
#   cpu   : torch 2.13.0+cpu, the CPU-only build, no torchaudio (like the default pip torch on
#           Windows: torch.cuda.synchronize() raises "Torch not compiled with CUDA enabled").
#           PyPI serves only CUDA builds for Linux: this one comes from
#           https://download.pytorch.org/whl/cpu, or a folder pip's find-links names (/opt/wheels
#           on the project's machines).
#   acestep15 : main + ACE-Step 1.5's code from the index (ace-step15-fork) and the one module its
#           audio, dataset and nano-vllm layer code paths import beside torch (loguru)
#   lightning : cpu + PyTorch Lightning, for DDP on a torch without NCCL
#   (these two chain their base venv, which must exist, instead of installing a second torch)
# Venvs are kept outside the clone and reused while their pins match. The clone is installed
# path-based (editable_mode=compat): setuptools' default editable finder comes after sys.path,
# so from the folder holding the clone (named like the package) the clone itself would be
# imported as an empty namespace package. Debian 12's FFmpeg 5.1 shared libraries are fetched
# with `apt-get download` and unpacked with `dpkg -x` into a private folder: never installed
# system-wide, visible only through FFMPEG_LD_LIBRARY_PATH.
# Prints nothing on stdout but the `export` lines the caller evaluates.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-main}
cache=${WINPATCH_DEV_CACHE:-$HOME/.cache/acestep_winpatch_dev}
tools="librosa==0.11.0 soundfile wrapt numpy pytest hypothesis psutil av"
# disk use measured on a fresh machine; each takes minutes the first time, then is reused
declare -A sizes=([main]="5.2 GB" [era28]="7.1 GB" [cpu]="1.4 GB")
case "$flavour" in
  main)  pins="torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1" ;;
  era28) pins="torch==2.8.0 torchaudio==2.8.0" ;;
  cpu)   pins="torch==2.13.0+cpu"; tools="librosa==0.11.0 soundfile wrapt numpy pytest psutil" ;;
  acestep15) base=main; extras="ace-step15-fork==20260212 loguru==0.7.3" ;;
  lightning) base=cpu; extras="lightning==2.6.6 lightning-utilities==0.15.3 torchmetrics==1.9.0 pyyaml tqdm" ;;
  *) echo "unknown environment: $flavour" >&2; exit 2 ;;
esac
venv=$cache/venv-$flavour
ffmpeg=$cache/ffmpeg5.1
mkdir -p "$cache"

log() { echo "[setup $flavour] $*" >&2; }

# A chained venv: its site-packages comes first, then the base venv's (one .pth line), so it
# reuses the base's torch, and `pip install --no-deps` can never replace it. Seconds, a few MB.
if [ -n "${base:-}" ]; then
  base_venv=$cache/venv-$base
  [ -x "$base_venv/bin/python" ] || { log "venv-$base is missing: run scripts/setup_env.sh $base first"; exit 1; }
  stamp="$base_venv $extras"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$stamp" ]; then
    log "creating venv $venv on top of $base_venv"
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
    own=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    inherited=$("$base_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "import site; site.addsitedir('$inherited')" > "$own/_winpatch_base_venv.pth"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q --no-deps $extras >&2
    echo "$stamp" > "$venv/.pins"
  fi
  echo "export WINPATCH_VENV='$venv'"
  exit 0
fi

stamp="$pins $tools"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$stamp" ]; then
  log "creating venv $venv (a few minutes, ${sizes[$flavour]})"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # shellcheck disable=SC2086
  if ! "$venv/bin/pip" install -q $pins $tools >"$cache/install-$flavour.log" 2>&1; then
    rm -rf "$venv"
    if [ "$flavour" = cpu ] && grep -q "No matching distribution found for torch==" "$cache/install-$flavour.log"; then
      log "torch==2.13.0+cpu is not on your package index (PyPI has only CUDA builds for Linux): rerun with PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu, or PIP_FIND_LINKS=a folder holding its wheel"
    else
      cat "$cache/install-$flavour.log" >&2
    fi
    exit 1
  fi
  echo "$stamp" > "$venv/.pins"
fi
"$venv/bin/pip" install -q --no-deps -e "$here" --config-settings editable_mode=compat \
  >"$cache/editable-install.log" 2>&1 || { cat "$cache/editable-install.log" >&2; exit 1; }

lib=$ffmpeg/root/usr/lib/x86_64-linux-gnu
# WINPATCH_FFMPEG=0: skip the FFmpeg libraries (the demo never makes them visible).
if [ "${WINPATCH_FFMPEG:-1}" != 0 ] && [ ! -f "$ffmpeg/.complete" ]; then
  # shellcheck disable=SC1091
  system=$(. /etc/os-release 2>/dev/null && echo "${ID:-?} ${VERSION_ID:-?} (${PRETTY_NAME:-unknown system})")
  case "$system" in
    "debian 12 "*) ;;
    *) log "the FFmpeg step fetches Debian 12's FFmpeg 5.1 packages (libavutil57, libavcodec59, ...) and this is $system: put FFmpeg 4 to 8 shared libraries (libavutil.so.N ...) into $lib and touch $ffmpeg/.complete"
       exit 1 ;;
  esac
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
  [ -e "$lib/libavutil.so.57" ] || { log "apt-get download fetched no FFmpeg 5.1 libraries (see above)"; exit 1; }
  touch "$ffmpeg/.complete"
fi
echo "export WINPATCH_VENV='$venv'"
echo "export FFMPEG_LD_LIBRARY_PATH='$lib:$lib/blas:$lib/lapack:$lib/pulseaudio'"
