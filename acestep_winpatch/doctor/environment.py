"""The environment report: what is installed, what loads, and what the plugin is doing.

Each probe returns ``(summary, details)``: one line for the table and the facts behind it
for ``--json``. Every probe is guarded, so one that breaks reports its error and the rest
still run. Nothing here initialises CUDA (``is_available`` and ``device_count`` only) or
imports librosa, Triton or torch's inductor: versions come from the installed metadata.
"""

import ctypes
import ctypes.util
import glob
import importlib.metadata
import importlib.util
import os
import platform
import re
import sys

from .outcome import error_text

# libavutil's major version for each FFmpeg release torchcodec supports (4 to 8).
AVUTIL_MAJOR_TO_FFMPEG = {56: 4, 57: 5, 58: 6, 59: 7, 60: 8}
TORCHCODEC_ERA = (2, 9)
DISPATCH_ERA = (2, 5)


COMPILER = "C++ compiler"
PLUGIN = "acestep_winpatch"
# torchcodec quotes one loader error per FFmpeg version; the FFmpeg entry already lists those.
_MISSING_LIBAVUTIL = re.compile(r"^libavutil\.so\.\d+: cannot open shared object file")


def torch_missing():
    """Why nothing can be checked here when torch is not installed for this interpreter, or None."""
    if importlib.util.find_spec("torch") is not None:
        return None
    return (f"torch is not importable in this interpreter ({sys.executable}): nothing to check. Run doctor "
            "with the Python that runs ACE-Step, or install torch into this environment.")


def plugin_problem(module):
    """Why ``module``, what ``import acestep_winpatch`` gave, is not the plugin, or None.

    A folder named like the package on ``sys.path`` before the install (the current directory,
    when it is the one holding the clone) is imported instead: as a namespace package when it
    has no ``__init__.py``, so the plugin silently does nothing in that process.
    """
    if getattr(module, "__file__", None) is None:
        where = ", ".join(getattr(module, "__path__", None) or ["?"])
        return (f"acestep_winpatch resolves to a namespace package ({where}), not to the plugin: a folder named "
                "like the package is on sys.path before the installed one (the current directory, when it "
                "holds the clone), so nothing is patched in this process. Run from another folder, or install "
                "the plugin path-based: pip install -e . --config-settings editable_mode=compat")
    if not hasattr(module, "status"):
        return f"acestep_winpatch resolves to {module.__file__}, which is not the plugin: nothing is patched here"
    return None


def plugin_summary():
    """``acestep_winpatch VERSION (FOLDER)``: what a bug report needs first."""
    summary, _ = _plugin()
    return f"{PLUGIN} {summary}"


def report(status, torch_importable=True):
    """Every probe, in the order a bug report reads best. The compile probe's child fills in
    :data:`COMPILER` (resolving it here would import inductor, about 1.6 s). ``status`` is
    ``acestep_winpatch.status``, or None where that is not the plugin (:func:`plugin_problem`)."""
    probes = [
        (PLUGIN, _plugin),
        ("python", _python),
        ("platform", _platform),
        ("embedded ._pth", lambda: embedded_python(os.path.dirname(os.path.abspath(sys.executable)))),
        ("torch", _torch if torch_importable else _no_torch),
        ("numpy", lambda: _version_line("numpy")),
    ]
    if torch_importable:
        probes += [
            ("accelerators", _accelerators),
            ("torchaudio", _torchaudio),
            ("torchcodec", _torchcodec),
        ]
    probes += [
        ("FFmpeg libraries", _ffmpeg_libraries),
        ("soundfile", _soundfile),
        ("libsndfile formats", _libsndfile_formats),
        ("librosa / soxr / PyAV", _audio_packages),
        ("triton", _triton),
    ]
    if torch_importable:
        probes.append((COMPILER, lambda: ("not probed", {})))
    probes.append(("wrapt", lambda: _version_line("wrapt")))
    if status is not None:
        probes += [
            ("activation", lambda: _activation(status)),
            ("configuration", lambda: _configuration(status)),
            ("patches", lambda: _patches(status)),
        ]
    return {name: _guarded(probe) for name, probe in probes}


def entry(summary, details):
    """One report entry: the table's line and the facts behind it."""
    return {"summary": summary, **details}


def _guarded(probe):
    try:
        return entry(*probe())
    except Exception as error:
        text = f"probe failed: {error_text(error)}"
        return entry(text, {"error": text})


def installed_version(distribution):
    """The installed version of ``distribution``, or None; never imports it."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _version_line(*distributions):
    for name in distributions:
        version = installed_version(name)
        if version:
            return version, {"version": version, "distribution": name}
    return "not installed", {"version": None}


def _plugin():
    import acestep_winpatch

    installed = installed_version(PLUGIN)
    problem = plugin_problem(acestep_winpatch)
    if problem:
        return f"NOT the plugin: {problem}", {"version": None, "path": None, "installed_version": installed,
                                              "problem": problem}
    version, folder = acestep_winpatch.__version__, os.path.dirname(acestep_winpatch.__file__)
    summary = f"{version} ({folder})"
    if installed and installed != version:
        summary += f"; the installed metadata says {installed} (another copy?)"
    return summary, {"version": version, "path": folder, "installed_version": installed, "problem": None}


def _no_torch():
    return f"not importable in this interpreter ({sys.executable})", {"version": None, "importable": False}


def _platform():
    return platform.platform(), {"system": platform.system(), "machine": platform.machine()}


def _python():
    version = platform.python_version()
    details = {"version": version, "implementation": platform.python_implementation(), "executable": sys.executable}
    return f"{version} ({sys.executable})", details


def embedded_python(folder):
    """Whether ``folder`` (the interpreter's) holds a ``._pth`` file, as in the Windows
    embeddable package and ComfyUI portable, and whether it enables ``import site``.

    With ``import site`` commented out, as shipped, site-packages ``.pth`` files and
    ``sitecustomize`` are never run, so only the launcher or an explicit import activates us.
    """
    files = sorted(glob.glob(os.path.join(folder, "*._pth")))
    if not files:
        return "no (no ._pth file next to the interpreter)", {"pth_file": None}
    path = files[0]
    parsed = parse_pth(path)
    site = "enabled" if parsed["import_site"] else "disabled (commented out or missing)"
    summary = f"yes: {os.path.basename(path)}, `import site` {site}"
    return summary, {"pth_file": path, "other_pth_files": files[1:], **parsed}


def parse_pth(path):
    """Read a ``._pth`` file as the interpreter does: ``#`` starts a comment, blank lines
    are skipped, the line ``import site`` switches site on, every other line is a path."""
    import_site = False
    paths = []
    with open(path, encoding="utf-8-sig") as handle:
        for raw in handle:
            line = raw.partition("#")[0].strip()
            if not line:
                continue
            if line == "import site":
                import_site = True
            elif not line.startswith("import "):
                paths.append(line)
    return {"import_site": import_site, "paths": paths}


def _torch():
    import torch

    cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
    if cuda:
        build = f"CUDA {cuda} build"
    elif hip:
        build = f"ROCm {hip} build"
    else:
        build = "CPU-only build"
    return f"{torch.__version__} ({build})", {"version": torch.__version__, "cuda": cuda, "hip": hip, "build": build}


def _accelerators():
    """cuda, mps and xpu availability, without initialising any of them."""
    import torch

    found = {}
    found["cuda"] = _available(lambda: torch.cuda.is_available())
    if found["cuda"] is True:
        found["cuda_devices"] = torch.cuda.device_count()
    found["mps"] = _available(lambda: torch.backends.mps.is_available())
    found["xpu"] = _available(lambda: hasattr(torch, "xpu") and torch.xpu.is_available())
    words = []
    for name in ("cuda", "mps", "xpu"):
        value = found[name]
        word = "yes" if value is True else "no" if value is False else f"unknown ({value})"
        if name == "cuda" and value is True:
            word += f" ({found['cuda_devices']} device(s))"
        words.append(f"{name}: {word}")
    return ", ".join(words), found


def _available(probe):
    try:
        return bool(probe())
    except Exception as error:
        return error_text(error)


def torchaudio_era(version):
    """The torchaudio I/O design a version belongs to."""
    major_minor = tuple(int(part) for part in version.split("+")[0].split(".")[:2])
    if major_minor >= TORCHCODEC_ERA:
        return "TorchCodec era 2.9+"
    if major_minor >= DISPATCH_ERA:
        return "dispatch era 2.5-2.8"
    return "before 2.5 (not supported)"


def _torchaudio():
    if importlib.util.find_spec("torchaudio") is None:
        return "not installed", {"version": None}
    import torchaudio

    version = torchaudio.__version__
    era = torchaudio_era(version)
    details = {"version": version, "era": era}
    summary = f"{version} ({era})"
    if era.startswith("dispatch"):
        backends = torchaudio.list_audio_backends()
        details["backends"] = backends
        summary += f", backends: {', '.join(backends) or 'none'}"
    return summary, details


def _torchcodec():
    if importlib.util.find_spec("torchcodec") is None:
        return "not installed", {"installed": False}
    version = installed_version("torchcodec")
    try:
        import torchcodec.decoders  # noqa: F401  (this is what loads libtorchcodec and FFmpeg)
    except Exception as error:
        text = error_text(error, omit=_MISSING_LIBAVUTIL)
        if text != error_text(error):
            text += " (no FFmpeg library found: see FFmpeg libraries)"
        return f"{version}, does NOT load: {text}", {"installed": True, "version": version, "loads": False, "error": text}
    return f"{version}, loads", {"installed": True, "version": version, "loads": True}


def ffmpeg_library_names(major):
    """The file names of libavutil ``major`` that this platform's loader would look for."""
    if sys.platform == "win32":
        return [f"avutil-{major}.dll"]
    if sys.platform == "darwin":
        return [f"libavutil.{major}.dylib"]
    return [f"libavutil.so.{major}"]


def _ffmpeg_libraries():
    """Which FFmpeg versions' libavutil the dynamic loader finds, as torchcodec would."""
    found = {}
    for major, release in AVUTIL_MAJOR_TO_FFMPEG.items():
        for name in ffmpeg_library_names(major):
            if _loadable(name):
                found[release] = name
    if not found:
        tried = ", ".join(name for major in AVUTIL_MAJOR_TO_FFMPEG for name in ffmpeg_library_names(major))
        return f"not found (tried {tried})", {"found": {}}
    summary = ", ".join(f"FFmpeg {release} ({name})" for release, name in sorted(found.items()))
    return summary, {"found": {str(release): name for release, name in found.items()}}


def _loadable(name):
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        pass
    if sys.platform == "win32":  # ctypes skips PATH on Windows; find_library searches it
        return ctypes.util.find_library(name) is not None
    return False


def _soundfile():
    if installed_version("soundfile") is None:
        return "not installed", {"version": None}
    import soundfile

    version, libsndfile = soundfile.__version__, soundfile.__libsndfile_version__
    return f"{version} (libsndfile {libsndfile})", {"version": version, "libsndfile": libsndfile}


def _libsndfile_formats():
    if installed_version("soundfile") is None:
        return "soundfile not installed", {"formats": []}
    import soundfile

    formats = sorted(soundfile.available_formats())
    return ", ".join(formats) + " (read and write)", {"formats": formats}


def _audio_packages():
    versions = {name: installed_version(dist) for name, dist in (("librosa", "librosa"), ("soxr", "soxr"), ("PyAV", "av"))}
    summary = ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items())
    return summary, {"versions": versions}


def _triton():
    if importlib.util.find_spec("triton") is None:
        return "not installed", {"available": False}
    version = installed_version("triton") or installed_version("triton-windows")
    return f"available ({version or 'version unknown'})", {"available": True, "version": version}


def _activation(status):
    snapshot = status()
    paths = snapshot.get("activated_by") or []
    applied = snapshot.get("applied")
    summary = ", ".join(paths) if paths else "none"
    summary += "" if applied else " (patches NOT applied)"
    return summary, {"activated_by": paths, "applied": applied}


def _configuration(status):
    config = status()["config"]
    sources = config.get("sources", {})
    shown = {
        "ACESTEP_WINPATCH": ("enabled", config.get("enabled")),
        "ACESTEP_WINPATCH_DISABLE": ("disabled", ", ".join(config.get("disabled", [])) or "nothing"),
        "ACESTEP_WINPATCH_COMPILE": ("compile", config.get("compile_policy")),
        "ACESTEP_WINPATCH_LOG_LEVEL": ("log level", config.get("log_level") or "off"),
    }
    parts = [f"{label}={value} [{sources.get(variable, 'default')}]" for variable, (label, value) in shown.items()]
    parts += [f"PROBLEM: {problem}" for problem in config.get("problems", [])]
    return "; ".join(parts), {"config": config}


def _patches(status):
    patches = status().get("patches", {})
    if not patches:
        return "none registered", {"patches": {}}
    parts = [f"{name} {entry.get('state')}" for name, entry in patches.items()]
    return ", ".join(parts), {"patches": patches}
