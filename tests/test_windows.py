"""Windows itself: the embeddable CPython 3.11.9 (ComfyUI portable's ``python_embeded``) with
the Windows wheels of torch 2.11 (the CPU build), torchaudio 2.11 and torchcodec 0.11, and no
FFmpeg DLLs: the state a ComfyUI portable user is in.

Collected on Windows only (``conftest.py``). CI runs it under Wine (``scripts/windows/test.sh``),
with the Windows-relevant tests of the other modules (``scripts/windows/tests.txt``). There a
Windows process takes 5-17 s to import torch, so the checks are batched: each fixture runs one
real interpreter through many checks and prints one JSON report, which the tests read. The
unpatched run asserts the errors Windows really raises, so the patched runs cannot pass
against an environment where nothing is broken. Nothing is faked.
"""

import json
import re
import subprocess

import pytest

from conftest import run_python
from startup_sandbox import Sandbox, clean_environment, describe

RATE, CHANNELS, SECONDS = 16000, 2, 0.25
FRAMES = int(RATE * SECONDS)
FFMPEG_VERSIONS = (8, 7, 6, 5, 4)

# Runs ``steps`` (name -> callable) and prints ``REPORT {name: [how, value]}``: "returned" and a
# JSON-ready value, or the exception's qualified type and full text.
BATCH = r'''
import json, sys

def run_steps(steps):
    report = {}
    for name, step in steps.items():
        try:
            report[name] = ["returned", step()]
        except BaseException as error:
            report[name] = [f"{type(error).__module__}.{type(error).__qualname__}", str(error)]
    print("REPORT " + json.dumps(report, default=repr), flush=True)
'''


def report_of(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and len(lines) == 1, describe(result)
    return json.loads(lines[0][len("REPORT "):])


def returned(outcome):
    how, value = outcome
    assert how == "returned", f"{how}: {value}"
    return value


def fallback_warnings(result):
    return [line for line in result.stderr.splitlines() if " fell back: " in line]


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """A folder whose path has a drive letter, backslashes, spaces and non-ASCII characters
    (``é`` is in the ANSI code page cp1252, ``日本`` is not)."""
    folder = tmp_path_factory.mktemp("windows") / "Songs é 日本"
    (folder / "sub folder").mkdir(parents=True)
    assert re.match(r"^[A-Za-z]:\\", str(folder)), folder
    return folder


# --- Windows as it is, without the plugin ----------------------------------------------------

UNPATCHED = BATCH + r'''
import soundfile, numpy, torch, torchaudio
path = sys.argv[1]
soundfile.write(path, numpy.zeros((1600, 2), dtype="float32"), 16000)
run_steps({
    "torch.version.cuda": lambda: torch.version.cuda,
    "load": lambda: torchaudio.load(path),
    "synchronize": lambda: torch.cuda.synchronize(),
    "empty_cache": lambda: torch.cuda.empty_cache(),
    "compiled call": lambda: torch.compile(lambda x: torch.relu(x) * 2 + 1)(torch.randn(8)).tolist(),
})
'''


@pytest.fixture(scope="module")
def unpatched(songs):
    """One interpreter with the plugin switched off (``ACESTEP_WINPATCH=0``)."""
    environment = clean_environment({"ACESTEP_WINPATCH": "0"})
    return report_of(run_python(UNPATCHED, str(songs.parent / "unpatched.wav"), env=environment))


def test_unpatched_build_is_cpu_only(unpatched):
    assert returned(unpatched["torch.version.cuda"]) is None


def test_unpatched_load_cannot_find_the_torchcodec_dlls(unpatched):
    how, text = unpatched["load"]
    assert how == "builtins.RuntimeError" and text.startswith("Could not load libtorchcodec."), text
    for version in FFMPEG_VERSIONS:
        dll = rf"[A-Za-z]:\\[^']*\\torchcodec\\libtorchcodec_core{version}\.dll"
        assert re.search(rf"FileNotFoundError: Could not find module '{dll}' \(or one of its dependencies\)", text), text


def test_unpatched_synchronize_says_not_compiled_with_cuda(unpatched):
    assert unpatched["synchronize"] == ["builtins.AssertionError", "Torch not compiled with CUDA enabled"]
    assert unpatched["empty_cache"] == ["returned", None]  # a no-op where CUDA was never initialised


def test_unpatched_compile_fails_at_the_first_call_without_cl(unpatched):
    how, text = unpatched["compiled call"]
    assert how == "torch._inductor.exc.InductorError", (how, text)
    assert text.startswith("RuntimeError: Compiler: cl is not found."), text


# --- the plugin, activated by import -----------------------------------------------------------

PATCHED = BATCH + r'''
import os
import acestep_winpatch
import numpy, soundfile, torch, torchaudio
from torch._dynamo.eval_frame import OptimizedModule

folder = sys.argv[1]
os.chdir(folder)
# The same files named four ways: drive letter and backslashes, forward slashes, pathlib,
# and relative to the working folder through a subfolder.
FORMS = {
    "backslashes": lambda name: os.path.join(folder, name),
    "forward slashes": lambda name: os.path.join(folder, name).replace("\\", "/"),
    "pathlib": lambda name: __import__("pathlib").Path(folder, name),
    "relative": lambda name: "sub folder\\" + name,
}
song = torch.sin(torch.arange(4000) / 16000 * 2 * torch.pi * torch.tensor([[220.0], [330.0]])) * 0.5

def round_trip(path):
    torchaudio.save(path, song, 16000)
    waveform, rate = torchaudio.load(path)
    info = torchaudio.info(path)
    frames = min(waveform.shape[1], song.shape[1])
    return {"shape": list(waveform.shape), "rate": rate,
            "max_error": float((waveform[:, :frames] - song[:, :frames]).abs().max()),
            "info": [info.sample_rate, info.num_frames, info.num_channels],
            "exists": os.path.isfile(path)}

steps = {f"{extension} {form}": (lambda extension=extension, name=name: round_trip(name(f"song {extension}.{extension}")))
         for extension in ("wav", "flac", "mp3", "ogg") for form, name in FORMS.items()}
steps["listing"] = lambda: sorted(os.listdir(folder)) + sorted("sub folder\\" + name for name in os.listdir("sub folder"))

def decodes_to_the_new_song(path):
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception:
        return False
    return rate == 16000 and data.shape == (4000, 2) and numpy.abs(data.T - new_song.numpy()).max() < 1e-3

new_song = song.flip(0)

def save_onto_a_held_file():
    held = os.path.join(folder, "held open.wav")
    soundfile.write(held, numpy.zeros((800, 2), dtype="float32"), 16000)
    with open(held, "rb") as handle:
        before = handle.read()
    handle = open(held, "rb")  # as a media player or a second tab would hold it
    try:
        torchaudio.save(held, new_song, 16000)
        outcome = ["returned", None]
    except Exception as error:
        outcome = [type(error).__name__, str(error)]
    handle.close()
    with open(held, "rb") as check:
        after = check.read()
    everywhere = [os.path.join(root, name) for root, _, names in os.walk(os.path.dirname(folder)) for name in names]
    return {"outcome": outcome, "original_intact": after == before,
            "song_in": [path for path in everywhere if decodes_to_the_new_song(path)]}

steps["save onto a held file"] = save_onto_a_held_file
steps["synchronize"] = lambda: torch.cuda.synchronize()
steps["synchronize(0)"] = lambda: torch.cuda.synchronize(0)
steps["empty_cache"] = lambda: torch.cuda.empty_cache()
steps["cuda initialised"] = lambda: torch.cuda.is_initialized()
x = torch.randn(3, 8)
model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU())
steps["compiled module"] = lambda: [type(torch.compile(model)) is OptimizedModule,
                                    bool(torch.equal(torch.compile(model)(x), model(x)))]
steps["compiled function"] = lambda: bool(torch.equal(torch.compile(lambda a: torch.relu(a) * 2 + 1)(x),
                                                      torch.relu(x) * 2 + 1))
steps["status"] = lambda: acestep_winpatch.status()
run_steps(steps)
'''


@pytest.fixture(scope="module")
def patched(songs):
    """One interpreter that imports acestep_winpatch first, as ACE-Step code would."""
    environment = clean_environment({"ACESTEP_WINPATCH_LOG_LEVEL": "WARNING"})
    result = run_python(PATCHED, str(songs), env=environment)
    return report_of(result), result


FORMS = ("backslashes", "forward slashes", "pathlib", "relative")
TOLERANCE = {"wav": 1 / 32768, "flac": 2 ** -22, "mp3": 0.05, "ogg": 0.05}  # 16-bit, 24-bit, lossy


@pytest.mark.parametrize("extension", ["wav", "flac", "mp3", "ogg"])
@pytest.mark.parametrize("form", FORMS)
def test_save_load_info_on_windows_paths(patched, extension, form):
    result = returned(patched[0][f"{extension} {form}"])
    assert result["exists"] and result["rate"] == RATE, result
    assert result["shape"][0] == CHANNELS and result["info"][0] == RATE and result["info"][2] == CHANNELS, result
    if extension in ("wav", "flac", "mp3"):  # mp3: the LAME gapless header gives back the exact length
        assert result["shape"][1] == result["info"][1] == 4000, result
    assert result["max_error"] <= TOLERANCE[extension], result


def test_files_keep_their_names_and_no_temporary_file_is_left(patched):
    listing = returned(patched[0]["listing"])
    expected = {f"song {extension}.{extension}" for extension in ("wav", "flac", "mp3", "ogg")}
    assert set(listing) == expected | {f"sub folder\\{name}" for name in expected} | {"sub folder"}


def test_every_fallback_reason_is_the_errors_own_text(patched):
    """The reason users see names what failed: the DLL that could not be found, never a line of
    torch's source (``raise OSError(f"Could not load this library: {path}") from e``)."""
    report, result = patched
    status = returned(report["status"])
    reasons = [status["fallbacks"][kind]["first_reason"] for kind in ("audio.load", "audio.save")]
    reasons += fallback_warnings(result)
    for reason in reasons:
        assert "Could not load libtorchcodec" in reason or "compile" in reason or "cuda" in reason, reason
        assert "raise " not in reason and "{path}" not in reason, reason
        if "libtorchcodec" in reason:
            assert re.search(r"Could not find module '[A-Za-z]:\\|Could not load this library: [A-Za-z]:\\", reason), reason


def test_a_save_onto_a_file_another_handle_holds_open_never_loses_the_song(patched):
    """Windows cannot replace a file that another handle holds open without FILE_SHARE_DELETE
    (what Python's ``open`` and most players use). Whatever the save does then, the song
    exists afterwards: at the destination, or in a file the error names; and the destination
    is either untouched or the new song."""
    result = returned(patched[0]["save onto a held file"])
    how, message = result["outcome"]
    held = how == "returned" and any(path.endswith("\\held open.wav") for path in result["song_in"])
    kept = [path for path in result["song_in"] if how != "returned" and (path in message or repr(path) in message)]
    assert held or kept, f"the song was lost: save {how}: {message}; files holding it: {result['song_in']}"
    assert result["original_intact"] or held, result


def test_cuda_calls_do_nothing_on_the_cpu_only_build(patched):
    report = patched[0]
    for name in ("synchronize", "synchronize(0)", "empty_cache"):
        assert report[name] == ["returned", None], report[name]
    assert report["cuda initialised"] == ["returned", False]
    status = returned(report["status"])
    assert status["notes"]["cuda.synchronize"] == "torch.cuda.synchronize() does nothing: CPU-only torch build"


def test_compile_falls_back_to_eager_without_cl(patched):
    report, result = patched
    assert returned(report["compiled module"]) == [True, True]
    assert returned(report["compiled function"]) is True
    status = returned(report["status"])
    assert status["fallbacks"]["compile"]["count"] >= 1, status["fallbacks"]
    assert "cl not found" in status["notes"]["compile.preflight"], status["notes"]
    assert len([line for line in fallback_warnings(result) if "compile fell back" in line]) == 1, result.stderr


# --- the embedded ._pth file without ``import site``, as the distribution ships it --------------

PROBE = r'''
import json, os, sys
print("PATH " + json.dumps(sys.path), flush=True)
if sys.argv[1:] == ["load"]:
    import torchaudio
    winpatch = sys.modules.get("acestep_winpatch")
    waveform, rate = torchaudio.load(os.path.join(os.path.dirname(__file__), "tone.wav"))
    print("REPORT " + json.dumps({"patched": type(torchaudio.load).__name__ == "WinpatchProxy",
                                  "activated_by": winpatch.status()["activated_by"] if winpatch else None,
                                  "loaded": [list(waveform.shape), rate]}), flush=True)
'''


def path_of(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("PATH ")]
    assert len(lines) == 1, describe(result)
    return json.loads(lines[0][len("PATH "):])


@pytest.fixture(scope="module")
def without_site(tmp_path_factory):
    """A copy of the interpreter whose ``._pth`` has no ``import site``; a probe script beside
    a wav file in ``app``, and the same probe as a module in site-packages."""
    import soundfile
    import numpy

    sandbox = Sandbox(tmp_path_factory.mktemp("no_site"), import_site=False)
    app = sandbox.add_folder("app", {"probe.py": PROBE})
    soundfile.write(app / "tone.wav", numpy.zeros((FRAMES, CHANNELS), dtype="float32"), RATE)
    (sandbox.site_packages / "probe_module.py").write_text(PROBE, encoding="utf-8")
    soundfile.write(sandbox.site_packages / "tone.wav", numpy.zeros((FRAMES, CHANNELS), dtype="float32"), RATE)
    return sandbox, app


def test_without_site_neither_pth_nor_sitecustomize_runs(without_site):
    sandbox, _ = without_site
    installed = sandbox.run("-m", "acestep_winpatch", "install-pth", sandbox.site_packages)
    assert installed.returncode == 0, describe(installed)
    (sandbox.site_packages / "sitecustomize.py").write_text("import acestep_winpatch\n", encoding="utf-8")
    result = sandbox.run("-c", "import sys; print('LOADED', sorted(m for m in ('site', 'sitecustomize', "
                               "'acestep_winpatch') if m in sys.modules))")
    assert "LOADED []" in result.stdout, describe(result)


def test_without_site_an_import_activates(without_site):
    sandbox, app = without_site
    code = "import acestep_winpatch, runpy, sys; sys.argv = [sys.argv[1], 'load']; runpy.run_path(sys.argv[0])"
    report = report_of(sandbox.run("-c", code, app / "probe.py"))
    assert report == {"patched": True, "activated_by": ["import"], "loaded": [[CHANNELS, FRAMES], RATE]}


def test_without_site_the_launcher_runs_a_script_with_pythons_own_path(without_site):
    sandbox, app = without_site
    plain = sandbox.run(app / "probe.py", cwd=app)
    through = sandbox.run("-m", "acestep_winpatch", "run", app / "probe.py", "load", cwd=app)
    assert plain.returncode == 0, describe(plain)
    assert path_of(through) == path_of(plain), describe(through)
    assert report_of(through) == {"patched": True, "activated_by": ["launcher"], "loaded": [[CHANNELS, FRAMES], RATE]}


def test_without_site_the_launcher_runs_a_module_with_pythons_own_path(without_site):
    sandbox, app = without_site
    plain = sandbox.run("-m", "probe_module", cwd=app)
    through = sandbox.run("-m", "acestep_winpatch", "run", "-m", "probe_module", "load", cwd=app)
    assert plain.returncode == 0, describe(plain)
    assert path_of(through) == path_of(plain), describe(through)
    assert report_of(through) == {"patched": True, "activated_by": ["launcher"], "loaded": [[CHANNELS, FRAMES], RATE]}


# --- doctor with its output in a file, on the cp1252 code page --------------------------------

@pytest.fixture(scope="module")
def doctor_in_a_file(tmp_path_factory):
    """``doctor`` run from a portable install in a folder named with ``é`` (cp1252 has it) and
    ``日本`` (it has not), its output redirected to a file, as ``doctor > report.txt`` does: the
    report is written in UTF-8 whatever the console's code page (cp1252 here), so nothing is lost."""
    sandbox = Sandbox(tmp_path_factory.mktemp("doctor") / "ComfyUI é 日本")
    output = sandbox.folder / "report.txt"
    with open(output, "wb") as handle:
        result = subprocess.run([str(sandbox.python), "-c", "import locale; print(locale.getencoding())"],
                                stdout=handle, env=clean_environment(), timeout=120)
        assert result.returncode == 0
    encoding = output.read_text(encoding="ascii").strip()
    with open(output, "wb") as handle:
        result = subprocess.run([str(sandbox.python), "-m", "acestep_winpatch", "doctor"], stdout=handle,
                                stderr=subprocess.PIPE, env=clean_environment(), timeout=600)
    return encoding, result, output.read_bytes(), sandbox


def test_doctor_output_redirected_to_a_file_on_cp1252(doctor_in_a_file):
    encoding, result, written, _ = doctor_in_a_file
    assert encoding == "cp1252", "this check needs the cp1252 ANSI code page"
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr.decode('cp1252', 'replace')}"
    text = written.decode("utf-8")  # the report is UTF-8 whatever the console's code page
    lines = text.splitlines()
    assert lines[0] == "acestep_winpatch doctor" and lines[-1].startswith("Verdict: every check passes"), text
    flowing = " ".join(text.split())  # the table wraps long paths
    assert "ComfyUI é 日本" in flowing, text  # what cp1252 lacks is kept too


def test_doctor_sees_the_embedded_pth_with_site(doctor_in_a_file):
    text = doctor_in_a_file[2].decode("utf-8")
    assert re.search(r"embedded \._pth +yes: python311\._pth, `import site` enabled", text), text
