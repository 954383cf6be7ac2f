#!/usr/bin/env bash
# Run the Windows python of the CI lane under Wine: python.sh ARGS... (as `python ARGS...`).
# Needs WINEPREFIX (scripts/windows/setup.sh prints it). The workarounds Wine 8.0 needs, each
# found by trial:
#  - the standard streams must be pipes: a Windows CPython whose stdin, stdout or stderr is a
#    regular file or /dev/null dies in init_sys_streams with "OSError: [WinError 6] Invalid handle";
#  - KMP_AFFINITY=disabled, or torch's Intel OpenMP aborts ("OMP: Error #179: Function
#    GetNumaNodeProcessorMaskEx() failed");
#  - Linux's PIP_* and PYTHON* variables leak into Windows processes: they are removed.
set -uo pipefail
: "${WINEPREFIX:?run scripts/windows/setup.sh first}"
python=${WINPATCH_WINDOWS_PYTHON:-$WINEPREFIX/drive_c/python_embeded/python.exe}
for variable in $(compgen -e | grep -E '^(PIP_|PYTHON)'); do unset "$variable"; done
export KMP_AFFINITY=disabled
: | wine "$python" "$@" 2> >(cat >&2) | cat
exit "${PIPESTATUS[1]}"
