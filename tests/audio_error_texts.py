"""Error texts recorded from real native failures, for the classifier's table tests.

``LINUX_TORCHCODEC``: ``str()`` of the RuntimeError torchaudio 2.11 raised here without FFmpeg
(torchcodec 0.11.1; only the first of its five FFmpeg-version blocks kept). ``WINDOWS_TORCHCODEC``:
the same message as the Windows embeddable CPython 3.11.9 printed it under Wine with the Windows
wheels (``../shared/windows/README.md``, "Real Windows errors seen"): its loader lines are the
recorded ones, in torchcodec's layout. ``WINDOWS_TORCHCODEC_09`` is torchcodec 0.9's shorter
layout of the same failure, and the macOS texts dyld's layout, both as users reported them
(torchcodec issues 1143 and 1631), with paths of our own. The short texts are CPython's,
glibc's and Windows' own words for each failure, as those loaders format them.
"""

LINUX_TORCHCODEC = 'Could not load libtorchcodec. Likely causes:\n          1. FFmpeg is not properly installed in your environment. We support\n             versions 4, 5, 6, 7, and 8, and we attempt to load libtorchcodec\n             for each of those versions. Errors for versions not installed on\n             your system are expected; only the error for your installed FFmpeg\n             version is relevant. On Windows, ensure you\'ve installed the\n             "full-shared" version which ships DLLs.\n          2. The PyTorch version (2.11.0+cu130) is not compatible with\n             this version of TorchCodec. Refer to the version compatibility\n             table:\n             https://github.com/pytorch/torchcodec?tab=readme-ov-file#installing-torchcodec.\n          3. Another runtime dependency; see exceptions below.\n\n        The following exceptions were raised as we tried to load libtorchcodec:\n        \n[start of libtorchcodec loading traceback]\nFFmpeg version 8:\nTraceback (most recent call last):\n  File "/root/.cache/wp-audio/venv-main/lib/python3.11/site-packages/torch/_ops.py", line 1503, in load_library\n    ctypes.CDLL(path)\n  File "/root/.pyenv/versions/3.11.7/lib/python3.11/ctypes/__init__.py", line 376, in __init__\n    self._handle = _dlopen(self._name, mode)\n                   ^^^^^^^^^^^^^^^^^^^^^^^^^\nOSError: libavutil.so.60: cannot open shared object file: No such file or directory\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File "/root/.cache/wp-audio/venv-main/lib/python3.11/site-packages/torchcodec/_internally_replaced_utils.py", line 93, in load_torchcodec_shared_libraries\n    torch.ops.load_library(core_library_path)\n  File "/root/.cache/wp-audio/venv-main/lib/python3.11/site-packages/torch/_ops.py", line 1505, in load_library\n    raise OSError(f"Could not load this library: {path}") from e\nOSError: Could not load this library: /root/.cache/acestep_winpatch_dev/venv-main/lib/python3.11/site-packages/torchcodec/libtorchcodec_core8.so\n\n[end of libtorchcodec loading traceback].'

WINDOWS_TORCHCODEC = 'Could not load libtorchcodec. Likely causes:\n          1. FFmpeg is not properly installed in your environment. We support\n             versions 4, 5, 6, 7, and 8, and we attempt to load libtorchcodec\n             for each of those versions. Errors for versions not installed on\n             your system are expected; only the error for your installed FFmpeg\n             version is relevant. On Windows, ensure you\'ve installed the\n             "full-shared" version which ships DLLs.\n          2. The PyTorch version (2.11.0+cpu) is not compatible with\n             this version of TorchCodec. Refer to the version compatibility\n             table:\n             https://github.com/pytorch/torchcodec?tab=readme-ov-file#installing-torchcodec.\n          3. Another runtime dependency; see exceptions below.\n\n        The following exceptions were raised as we tried to load libtorchcodec:\n        \n[start of libtorchcodec loading traceback]\nFFmpeg version 8:\nTraceback (most recent call last):\n  File "C:\\py311\\Lib\\site-packages\\torch\\_ops.py", line 1503, in load_library\n    ctypes.CDLL(path)\n  File "C:\\py311\\Lib\\ctypes\\__init__.py", line 376, in __init__\n    self._handle = _dlopen(self._name, mode)\n                   ^^^^^^^^^^^^^^^^^^^^^^^^^\nFileNotFoundError: Could not find module \'C:\\py311\\Lib\\site-packages\\torchcodec\\libtorchcodec_core8.dll\' (or one of its dependencies). Try using the full path with constructor syntax.\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File "C:\\py311\\Lib\\site-packages\\torchcodec\\_internally_replaced_utils.py", line 93, in load_torchcodec_shared_libraries\n    torch.ops.load_library(core_library_path)\n  File "C:\\py311\\Lib\\site-packages\\torch\\_ops.py", line 1505, in load_library\n    raise OSError(f"Could not load this library: {path}") from e\nOSError: Could not load this library: C:\\py311\\Lib\\site-packages\\torchcodec\\libtorchcodec_core8.dll\n\n[end of libtorchcodec loading traceback].'

WINDOWS_TORCHCODEC_09 = (
    "Could not load libtorchcodec. Likely causes:\n"
    "          1. FFmpeg is not properly installed in your environment. We support\n"
    "             versions 4, 5, 6, 7, and 8. On Windows, ensure you've installed\n"
    "             the \"full-shared\" version which ships DLLs.\n"
    "        The following exceptions were raised as we tried to load libtorchcodec:\n\n"
    "[start of libtorchcodec loading traceback]\n"
    " FFmpeg version 8: Could not load this library: D:\\ComfyUI\\python_embeded\\Lib\\site-packages\\"
    "torchcodec\\libtorchcodec_core8.dll \n"
    " FFmpeg version 7: Could not load this library: D:\\ComfyUI\\python_embeded\\Lib\\site-packages\\"
    "torchcodec\\libtorchcodec_core7.dll \n"
    " [end of libtorchcodec loading traceback]."
)

LINUX_DLOPEN = "libavutil.so.60: cannot open shared object file: No such file or directory"
LINUX_UNDEFINED_SYMBOL = ("/venv/lib/python3.11/site-packages/torchcodec/libtorchcodec_core7.so: undefined symbol: "
                          "_ZNK3c1010TensorImpl15incref_pyobjectEv")
TORCH_LOAD_LIBRARY = "Could not load this library: /venv/lib/python3.11/site-packages/torchcodec/libtorchcodec_core8.so"
TORCHAUDIO_28_NO_BACKEND = "Couldn't find appropriate backend to handle uri /data/song.wav and format None."
TORCHAUDIO_NEEDS_TORCHCODEC = ("TorchCodec is required for load_with_torchcodec. "
                               "Please install torchcodec to use this function.")
WINDOWS_CTYPES_126 = (r"Could not find module 'C:\py311\Lib\site-packages\torchcodec\libtorchcodec_core8.dll' "
                      "(or one of its dependencies). Try using the full path with constructor syntax.")
WINDOWS_DLL_LOAD_ENGLISH = "DLL load failed while importing _C: The specified module could not be found."
WINDOWS_DLL_LOAD_GERMAN = "DLL load failed while importing _C: Das angegebene Modul wurde nicht gefunden."
# FormatMessage texts of a non-English (German) Windows, which OSError carries with winerror set.
WINDOWS_GERMAN = {
    126: "Das angegebene Modul wurde nicht gefunden",
    127: "Die angegebene Prozedur wurde nicht gefunden",
    193: "%1 ist keine zul\u00e4ssige Win32-Anwendung",
    5: "Zugriff verweigert",
}
MACOS_LIBRARY_NOT_LOADED = (
    "dlopen(/Users/me/venv/lib/python3.11/site-packages/torchcodec/libtorchcodec_core7.dylib, 0x0006): "
    "Library not loaded: @rpath/libavutil.59.dylib\n"
    "  Referenced from: <6F1B7C2E-0E43-3A56-9A7D-4E0D5A3B7C11> "
    "/Users/me/venv/lib/python3.11/site-packages/torchcodec/libtorchcodec_core7.dylib\n"
    "  Reason: tried: '/opt/homebrew/lib/libavutil.59.dylib' (no such file), '/usr/lib/libavutil.59.dylib' (no such file)"
)
MACOS_IMAGE_NOT_FOUND = "dlopen(/usr/local/lib/libtorchcodec_core5.dylib, 6): image not found"

# Errors of a working FFmpeg about one file (recorded from torchaudio 2.11 here, FFmpeg 5.1).
CORRUPT_FILE = ("Failed to create AudioDecoder for /tmp/corrupt.wav: SingleStreamDecoder, "
                "/__w/torchcodec/torchcodec/meta-pytorch/torchcodec/src/torchcodec/_core/SingleStreamDecoder.cpp:51, "
                "Could not open input file: /tmp/corrupt.wav Invalid data found when processing input")
