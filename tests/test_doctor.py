"""``python -m acestep_winpatch doctor``: its verdicts must match the environment it runs in.

Doctor runs as a real subprocess in each CI environment (FFmpeg visible, and not), and
once with the C++ compiler pointed at a path that does not exist. Nothing is faked.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import acestep_winpatch
from conftest import run_python
from startup_sandbox import PACKAGE_SOURCE, Sandbox, clean_environment, describe

ALL_CHECKS = {"audio wav", "audio flac", "audio mp3", "audio ogg", "torch.compile", "cuda empty_cache", "cuda synchronize",
              "cuda ipc_collect", "cuda reset_peak", "mps empty_cache", "mps synchronize"}
AUDIO_CHECKS = sorted(name for name in ALL_CHECKS if name.startswith("audio"))


def doctor(*args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "acestep_winpatch", "doctor", *args],
        capture_output=True, text=True, env=full_env, timeout=600,
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The temporary folder and an empty inductor cache for the shared doctor run: its compile
    check compiles for real, whatever this machine's cache holds."""
    root = tmp_path_factory.mktemp("doctor")
    (root / "tmp").mkdir()
    (root / "inductor_cache").mkdir()
    return {"TMPDIR": str(root / "tmp"), "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor_cache")}


@pytest.fixture(scope="module")
def diagnosis(folders):
    """One ``doctor --json`` run in this environment: (exit code, parsed JSON)."""
    result = doctor("--json", env=folders)
    return result.returncode, json.loads(result.stdout)


def test_json_has_every_section_and_check(diagnosis):
    _, report = diagnosis
    assert set(report) == {"environment", "checks", "verdict"}
    assert set(report["checks"]) == ALL_CHECKS
    for name, check in report["checks"].items():
        assert check["outcome"] in ("native", "fell back", "failed"), name
        assert check["detail"], name
    for name, entry in report["environment"].items():
        assert entry["summary"], name


def test_environment_reports_what_is_installed(diagnosis):
    import soundfile
    import torch
    import torchaudio

    environment = diagnosis[1]["environment"]
    assert environment["python"]["executable"] == sys.executable
    assert environment["torch"]["version"] == torch.__version__
    assert environment["torch"]["cuda"] == torch.version.cuda
    assert environment["torchaudio"]["version"] == torchaudio.__version__
    assert environment["soundfile"]["libsndfile"] == soundfile.__libsndfile_version__
    assert environment["libsndfile formats"]["formats"] == sorted(soundfile.available_formats())
    assert environment["accelerators"]["cuda"] is torch.cuda.is_available()
    assert environment["activation"]["activated_by"] == ["import"]
    assert environment["configuration"]["config"]["sources"]["ACESTEP_WINPATCH_COMPILE"] == "default"
    assert environment["C++ compiler"]["path"], environment["C++ compiler"]


def test_exit_status_follows_the_verdict(diagnosis):
    code, report = diagnosis
    failed = [name for name, check in report["checks"].items() if check["outcome"] == "failed"]
    assert report["verdict"]["failed"] == failed
    assert (code == 0) == (not failed), report["verdict"]


def test_every_check_passes(diagnosis):
    code, report = diagnosis
    assert code == 0, {name: check for name, check in report["checks"].items() if check["outcome"] == "failed"}


@pytest.mark.needs_broken_ffmpeg
def test_broken_ffmpeg_says_torchcodec_cannot_load_and_audio_falls_back(diagnosis):
    _, report = diagnosis
    torchcodec = report["environment"]["torchcodec"]
    assert torchcodec["loads"] is False
    assert "Could not load libtorchcodec" in torchcodec["error"]
    assert report["environment"]["FFmpeg libraries"]["found"] == {}
    for name in AUDIO_CHECKS:
        check = report["checks"][name]
        assert check["outcome"] == "fell back", (name, check)
        assert "Could not load libtorchcodec" in check["detail"], (name, check)


@pytest.mark.needs_ffmpeg
def test_working_ffmpeg_every_audio_check_is_native(diagnosis):
    _, report = diagnosis
    assert report["environment"]["torchcodec"]["loads"] is True
    assert report["environment"]["FFmpeg libraries"]["found"]
    for name in AUDIO_CHECKS:
        assert report["checks"][name]["outcome"] == "native", (name, report["checks"][name])


def test_compile_check_compiles_for_real_where_gcc_works(diagnosis):
    check = diagnosis[1]["checks"]["torch.compile"]
    assert check["outcome"] == "native", check
    assert "compiled with inductor" in check["detail"]


@pytest.mark.slow
def test_missing_compiler_is_reported_and_compile_falls_back():
    result = doctor("--json", env={"CXX": "/nonexistent/cl"})
    report = json.loads(result.stdout)
    compiler = report["environment"]["C++ compiler"]
    assert compiler["path"] is None and "InvalidCxxCompiler" in compiler["error"], compiler
    check = report["checks"]["torch.compile"]
    assert check["outcome"] == "fell back", check
    assert "/nonexistent/cl" in check["detail"], check
    assert "vector-ISA" not in check["detail"], check  # no compile ran


def test_table_renders_every_entry_and_check(diagnosis):
    result = doctor()
    _, report = diagnosis
    lines = result.stdout.splitlines()
    assert lines[0] == "acestep_winpatch doctor"
    for name in report["environment"]:
        assert any(line.startswith(f"  {name} ") for line in lines), name
    for name in ALL_CHECKS:
        row = next(line for line in lines if line.startswith(f"  {name} "))
        assert report["checks"][name]["outcome"] in row
    assert lines[-1] == f"Verdict: {report['verdict']['summary']}"
    assert result.returncode == (0 if report["verdict"]["ok"] else 1)


def test_unknown_argument_is_a_usage_error():
    result = doctor("--yaml")
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_report_initialises_no_accelerator():
    """The environment report probes cuda/mps/xpu without initialising CUDA."""
    result = run_python(
        """
        import acestep_winpatch, torch
        from acestep_winpatch.doctor import environment
        report = environment.report(acestep_winpatch.status)
        assert report["accelerators"]["cuda"] in (True, False), report["accelerators"]
        print(torch.cuda.is_initialized())
        """
    )
    assert result.stdout.strip() == "False"


def test_report_survives_a_missing_package():
    """A probe whose package cannot be imported reports the error; the others still run."""
    result = run_python(
        """
        import sys, json
        sys.modules["soundfile"] = None  # makes `import soundfile` raise ImportError
        import acestep_winpatch
        from acestep_winpatch.doctor import environment
        print(json.dumps(environment.report(acestep_winpatch.status)))
        """
    )
    report = json.loads(result.stdout)
    assert report["soundfile"]["summary"].startswith("probe failed: ModuleNotFoundError: import of soundfile halted")
    assert report["torch"]["version"]


@pytest.mark.parametrize(
    ("text", "import_site", "paths"),
    [
        ("python311.zip\n.\n\n# Uncomment to run site.main() automatically\n#import site\n", False, ["python311.zip", "."]),
        ("python311.zip\n.\n../ComfyUI\nimport site\n", True, ["python311.zip", ".", "../ComfyUI"]),
        ("\ufeffLib/site-packages\n  import site   # enabled by the installer\n", True, ["Lib/site-packages"]),
    ],
)
def test_pth_file_parsing(tmp_path, text, import_site, paths):
    from acestep_winpatch.doctor import environment

    (tmp_path / "python311._pth").write_text(text, encoding="utf-8")
    summary, details = environment.embedded_python(str(tmp_path))
    assert details["import_site"] is import_site
    assert details["paths"] == paths
    assert summary.startswith("yes: python311._pth")


def test_no_pth_file_means_not_embedded(tmp_path):
    from acestep_winpatch.doctor import environment

    summary, details = environment.embedded_python(str(tmp_path))
    assert details["pth_file"] is None and summary.startswith("no")


@pytest.mark.parametrize(
    ("version", "era"),
    [("2.11.0+cu130", "TorchCodec era 2.9+"), ("2.9.1", "TorchCodec era 2.9+"), ("2.8.0", "dispatch era 2.5-2.8"),
     ("2.5.1+cpu", "dispatch era 2.5-2.8"), ("2.4.0", "before 2.5 (not supported)")],
)
def test_torchaudio_era(version, era):
    from acestep_winpatch.doctor.environment import torchaudio_era

    assert torchaudio_era(version) == era


def test_report_starts_with_the_plugin_its_folder_and_numpy(diagnosis):
    import numpy

    environment = diagnosis[1]["environment"]
    assert list(environment)[:2] == ["acestep_winpatch", "python"]
    plugin = environment["acestep_winpatch"]
    assert plugin["version"] == acestep_winpatch.__version__
    assert plugin["path"] == os.path.dirname(acestep_winpatch.__file__) and plugin["problem"] is None
    assert plugin["summary"].startswith(f"{acestep_winpatch.__version__} ({plugin['path']})")
    assert environment["numpy"]["version"] == numpy.__version__


def test_every_audio_check_gives_its_reason_in_one_form(diagnosis):
    checks = diagnosis[1]["checks"]
    # the same fallback, said the same way for every format; which decoder served differs by format
    details = {checks[name]["detail"].split("; decoded: ")[0]
               for name in AUDIO_CHECKS if checks[name]["outcome"] == "fell back"}
    assert len(details) <= 1, details
    for detail in details:
        assert "using the fallback for this process" not in detail and detail.startswith("audio.save, audio.load: ")


@pytest.mark.needs_broken_ffmpeg
def test_the_ffmpeg_libraries_are_listed_once(diagnosis):
    environment = diagnosis[1]["environment"]
    assert "libavutil" not in environment["torchcodec"]["summary"], environment["torchcodec"]
    assert "see FFmpeg libraries" in environment["torchcodec"]["summary"], environment["torchcodec"]
    assert "libavutil.so.57" in environment["FFmpeg libraries"]["summary"]


def test_json_values_are_json(diagnosis):
    compiler = diagnosis[1]["environment"]["C++ compiler"]
    assert isinstance(compiler["searched"], list), compiler
    assert all(name is None or isinstance(name, str) for name in compiler["searched"]), compiler


def test_doctor_leaves_no_folder_of_its_own(diagnosis, folders):
    assert diagnosis[1]["checks"]["torch.compile"]["outcome"] == "native"
    leftovers = [name for name in os.listdir(folders["TMPDIR"]) if name.startswith("acestep_winpatch")]
    assert leftovers == [], leftovers


def test_the_vector_isa_remark_comes_with_a_compile_only(diagnosis):
    check = diagnosis[1]["checks"]["torch.compile"]
    assert check["outcome"] == "native" and "vector-ISA probe skipped" in check["detail"], check


def test_doctor_writes_utf8_on_a_cp1252_console_with_a_non_ascii_path(tmp_path):
    """``doctor > report.txt`` on Windows' default code page, in a user folder named in Chinese."""
    sandbox = Sandbox(tmp_path / "用户 Jürgen")
    report = tmp_path / "report.txt"
    with open(report, "wb") as handle:
        result = subprocess.run([str(sandbox.python), "-m", "acestep_winpatch", "doctor"], stdout=handle,
                                stderr=subprocess.PIPE, env=clean_environment({"PYTHONIOENCODING": "cp1252"}),
                                cwd=tmp_path, timeout=600)
    text = report.read_bytes().decode("utf-8")
    assert result.returncode == 0, result.stderr.decode("cp1252", "replace") + text
    assert f"({sandbox.python})" in " ".join(text.split()), text  # the table may wrap at the blank
    assert text.splitlines()[-1].startswith("Verdict: every check passes"), text


def bare_venv(folder):
    """A venv with the plugin copied in and nothing else: no torch, numpy or soundfile."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    site_packages = next(folder.glob("lib/python*/site-packages"))
    shutil.copytree(PACKAGE_SOURCE, site_packages / "acestep_winpatch", ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "bin" / "python"


def test_without_torch_doctor_says_so_for_this_interpreter(tmp_path):
    python = bare_venv(tmp_path / "venv")
    table = subprocess.run([str(python), "-m", "acestep_winpatch", "doctor"], capture_output=True, text=True,
                           env=clean_environment(), cwd=tmp_path, timeout=120)
    expected = f"torch is not importable in this interpreter ({python})"
    assert table.returncode == 1, describe(table)
    assert expected in " ".join(table.stdout.split()), describe(table)
    assert "FAILED" not in table.stdout and "Traceback" not in table.stderr, describe(table)
    report = json.loads(subprocess.run([str(python), "-m", "acestep_winpatch", "doctor", "--json"],
                                       capture_output=True, text=True, env=clean_environment(),
                                       cwd=tmp_path, timeout=120).stdout)
    assert report["checks"] == {} and report["verdict"]["skipped"].startswith(expected), report["verdict"]
    assert report["environment"]["torch"]["importable"] is False
    assert report["environment"]["soundfile"]["summary"] == "not installed"


def test_a_namespace_package_is_named_as_not_the_plugin(tmp_path):
    """What ``import acestep_winpatch`` gives where a folder of that name without ``__init__.py``
    (the clone, seen from the folder holding it) wins: a real namespace package."""
    (tmp_path / "acestep_winpatch").mkdir()
    result = run_python(f"""
        import importlib.util
        from importlib.machinery import PathFinder
        import acestep_winpatch
        from acestep_winpatch.doctor import environment
        namespace = importlib.util.module_from_spec(PathFinder.find_spec("acestep_winpatch", [{str(tmp_path)!r}]))
        print(environment.plugin_problem(namespace))
        print("REAL", environment.plugin_problem(acestep_winpatch))
        """, env=clean_environment())
    problem, real = result.stdout.splitlines()
    assert problem.startswith(f"acestep_winpatch resolves to a namespace package ({tmp_path / 'acestep_winpatch'})")
    assert "editable_mode=compat" in problem and real == "REAL None", result.stdout
