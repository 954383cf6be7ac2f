"""What the user sees without configuring anything: one ConfigWarning per invalid variable, one
FallbackWarning per kind of fallback, both through :mod:`warnings` (shown by default, silenced
by the usual filters), each pointing at the user's line. Every case runs in a fresh interpreter.

The CUDA calls fall back in every environment of these machines (no GPU), so they stand for
"a fallback" where the FFmpeg state must not matter; audio and compile are checked for real too.
"""

import re
import subprocess
import sys
import textwrap

import pytest

from conftest import run_python
from startup_sandbox import Sandbox, clean_environment, describe

CONFIG_LINE = re.compile(r"^(?P<where>.+):(?P<line>\d+): ConfigWarning: acestep_winpatch configuration: (?P<text>.*)$")
FALLBACK_LINE = re.compile(r"^(?P<where>.+):(?P<line>\d+): FallbackWarning: acestep_winpatch fallback: "
                           r"(?P<kind>\S+) used the fallback \((?P<reason>.*)\); shown once per process$")

INVALID = {
    "ACESTEP_WINPATCH": ("banana", "1/true/yes/on/0/false/no/off", "using the default (on)"),
    "ACESTEP_WINPATCH_DISABLE": ("audo", "names of patches or groups (audio, audio.info,", "these name nothing"),
    "ACESTEP_WINPATCH_COMPILE": ("in ductor", "attempt, eager, or a torch.compile backend name", "using the default (attempt)"),
    "ACESTEP_WINPATCH_LOG_LEVEL": ("loud", "DEBUG/INFO/WARNING/ERROR/CRITICAL", "using the default (no log on stderr)"),
}

TWO_CUDA_CALLS = """\
import torch
import acestep_winpatch
torch.cuda.synchronize()
torch.cuda.synchronize()
print("STATUS", acestep_winpatch.status()["fallbacks"]["cuda"]["count"])
"""

SAVE_SAVE_LOAD = """\
import os, torch, torchaudio
import acestep_winpatch
song = torch.zeros(2, 1600)
torchaudio.save(os.path.join({folder!r}, "a.wav"), song, 16000)
torchaudio.save(os.path.join({folder!r}, "b.wav"), song, 16000)
torchaudio.load(os.path.join({folder!r}, "a.wav"))
"""


def script(tmp_path, text, name="user_script.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(*arguments, env=None):
    """This venv's python with ``arguments`` (a script path, or ``-W ...``, ``-c code``)."""
    return subprocess.run([sys.executable, *map(str, arguments)], capture_output=True, text=True,
                          env=clean_environment(env), timeout=300)


def run_python_with(arguments, code, env):
    return run(*arguments, "-c", code, env=env)


def matches(pattern, stderr):
    return [match for match in map(pattern.match, stderr.splitlines()) if match]


@pytest.mark.parametrize("variable", sorted(INVALID))
def test_an_invalid_value_is_one_config_warning_at_the_users_import(variable, tmp_path):
    value, accepted, consequence = INVALID[variable]
    path = script(tmp_path, """\
        import acestep_winpatch
        acestep_winpatch.apply()
        acestep_winpatch.apply()
        print("APPLIED", acestep_winpatch.is_applied())
        """)
    result = run(path, env={variable: value})
    found = matches(CONFIG_LINE, result.stderr)
    assert len(found) == 1, describe(result)
    assert (found[0]["where"], found[0]["line"]) == (str(path), "1"), describe(result)
    text = found[0]["text"]
    assert text.startswith(f"{variable}={value!r} is not valid (") and accepted in text and consequence in text, text
    assert "  import acestep_winpatch" in result.stderr.splitlines(), describe(result)  # Python's source line
    assert "APPLIED True" in result.stdout, describe(result)


def test_a_long_or_undecodable_value_is_shown_shortened_and_escaped():
    result = run_python("import acestep_winpatch",
                        env=clean_environment({"ACESTEP_WINPATCH_LOG_LEVEL": "x" * 10_000 + "\udcff"}))
    (found,) = matches(CONFIG_LINE, result.stderr)
    assert found["where"] == "<string>" and len(found["text"]) < 250, found["text"]
    assert "xxx...'" in found["text"], found["text"]


@pytest.mark.parametrize("how", ["-W", "PYTHONWARNINGS", "code"])
def test_config_warning_is_silenced_by_the_usual_filters(how):
    code = "import acestep_winpatch; print('APPLIED', acestep_winpatch.is_applied())"
    arguments, env = [], {"ACESTEP_WINPATCH_COMPILE": "in ductor"}
    if how == "-W":
        arguments = ["-W", "ignore:acestep_winpatch configuration"]
    elif how == "PYTHONWARNINGS":
        env["PYTHONWARNINGS"] = "ignore:acestep_winpatch"
    else:
        code = "import warnings; warnings.filterwarnings('ignore', message='acestep_winpatch configuration')\n" + code
    result = run_python_with(arguments, code, env)
    assert result.stderr == "" and "APPLIED True" in result.stdout, describe(result)


def test_report_problem_says_once_per_variable_and_is_kept_for_status():
    """The entry point for mistakes found after parsing (an unknown compile backend)."""
    result = run_python("""
        import json
        import acestep_winpatch
        from acestep_winpatch import config
        config.report_problem(config.COMPILE, "inductr", "attempt, eager or one of: eager, inductor", "eager is used")
        config.report_problem(config.COMPILE, "other", "attempt, eager or one of: eager, inductor", "eager is used")
        print("PROBLEMS", json.dumps(acestep_winpatch.status()["config"]["problems"]))
        """, env=clean_environment())
    (found,) = matches(CONFIG_LINE, result.stderr)
    assert found["text"] == ("ACESTEP_WINPATCH_COMPILE='inductr' is not valid (attempt, eager or one of: eager, "
                             "inductor accepted); eager is used"), found["text"]
    assert found["where"] == "<string>" and found["line"] == "5", describe(result)
    assert "ACESTEP_WINPATCH_COMPILE='inductr'" in result.stdout and "'other'" not in result.stdout, describe(result)


def test_start_up_paths_attribute_the_warning_to_the_plugin(tmp_path):
    """The .pth line runs before any user code: there is no line of theirs to point at."""
    sandbox = Sandbox(tmp_path)
    from acestep_winpatch import pth

    sandbox.add_pth("acestep_winpatch", pth.LINE)
    result = sandbox.run("-c", "import acestep_winpatch; print('BY', acestep_winpatch.status()['activated_by'])",
                         env={"ACESTEP_WINPATCH_LOG_LEVEL": "loud"})
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acestep_winpatch:0: ConfigWarning: acestep_winpatch "
                                                   "configuration: ACESTEP_WINPATCH_LOG_LEVEL='loud'"), describe(result)
    assert "BY ['pth']" in result.stdout, describe(result)


def test_an_error_filter_at_start_up_still_starts_python_with_the_plugin_applied(tmp_path):
    sandbox = Sandbox(tmp_path)
    from acestep_winpatch import pth

    sandbox.add_pth("acestep_winpatch", pth.LINE)
    result = sandbox.run("-W", "error", "-c", "import acestep_winpatch; print('APPLIED', acestep_winpatch.is_applied())",
                         env={"ACESTEP_WINPATCH_LOG_LEVEL": "loud"})
    assert result.returncode == 0 and "APPLIED True" in result.stdout, describe(result)


def test_a_fallback_is_one_warning_per_kind_at_the_users_call(tmp_path):
    path = script(tmp_path, TWO_CUDA_CALLS)
    result = run(path)
    found = matches(FALLBACK_LINE, result.stderr)
    assert len(found) == 1, describe(result)
    assert (found[0]["where"], found[0]["line"], found[0]["kind"]) == (str(path), "3", "cuda"), describe(result)
    assert "torch.cuda.synchronize() does nothing" in found[0]["reason"], found[0]["reason"]
    assert "STATUS 1" in result.stdout, describe(result)  # decided once: later calls do not count


def test_a_fallback_under_the_launcher_points_at_the_script(tmp_path):
    path = script(tmp_path, TWO_CUDA_CALLS)
    result = run("-m", "acestep_winpatch", "run", path)
    found = matches(FALLBACK_LINE, result.stderr)
    assert [(match["where"], match["line"]) for match in found] == [(str(path), "3")], describe(result)


@pytest.mark.parametrize("how", ["-W", "PYTHONWARNINGS", "category in code"])
def test_fallback_warning_is_silenced_by_the_usual_filters(how, tmp_path):
    code = TWO_CUDA_CALLS
    arguments, env = [], {}
    if how == "-W":
        arguments = ["-W", "ignore:acestep_winpatch fallback"]
    elif how == "PYTHONWARNINGS":
        env["PYTHONWARNINGS"] = "ignore:acestep_winpatch fallback"
    else:
        code = code.replace("import acestep_winpatch\n", "import acestep_winpatch, warnings\n"
                            "warnings.simplefilter('ignore', acestep_winpatch.FallbackWarning)\n")
    result = run_python_with(arguments, code, env)
    assert result.returncode == 0 and "STATUS 1" in result.stdout, describe(result)
    assert result.stderr == "", describe(result)


@pytest.mark.needs_broken_ffmpeg
def test_the_logger_keeps_its_record_and_the_details(tmp_path):
    path = script(tmp_path, SAVE_SAVE_LOAD.format(folder=str(tmp_path)))
    result = run(path, env={"ACESTEP_WINPATCH_LOG_LEVEL": "DEBUG"})
    log = [line for line in result.stderr.splitlines() if line.startswith("[acestep_winpatch]")]
    assert any(line.startswith("[acestep_winpatch] WARNING: audio.save fell back: ") for line in log), describe(result)
    assert any("audio.save fell back again (2 in this process)" in line for line in log), describe(result)
    assert len(matches(FALLBACK_LINE, result.stderr)) == 2, describe(result)


def test_an_error_filter_raises_the_fallback_warning_at_every_call():
    code = """
        import torch, acestep_winpatch
        for _ in range(2):
            try:
                torch.cuda.synchronize()
            except acestep_winpatch.FallbackWarning as warning:
                print("RAISED", str(warning).split(" used")[0])
    """
    result = run_python_with(["-W", "error::UserWarning"], textwrap.dedent(code), {})
    assert result.stdout.count("RAISED acestep_winpatch fallback: cuda") == 2, describe(result)


@pytest.mark.needs_broken_ffmpeg
def test_audio_fallbacks_without_ffmpeg_say_each_kind_once(tmp_path):
    path = script(tmp_path, SAVE_SAVE_LOAD.format(folder=str(tmp_path)))
    result = run(path)
    found = matches(FALLBACK_LINE, result.stderr)
    assert [(match["kind"], match["line"]) for match in found] == [("audio.save", "4"), ("audio.load", "6")], \
        describe(result)
    assert all("Could not load libtorchcodec" in match["reason"] for match in found), describe(result)


@pytest.mark.slow
def test_a_compile_fallback_points_past_torchs_frames_at_the_users_call(tmp_path):
    path = script(tmp_path, """\
        import torch
        import acestep_winpatch
        model = torch.compile(torch.nn.Sequential(torch.nn.ReLU()))
        x = torch.ones(4)
        model(x)
        model(x)
        """)
    result = run(path, env={"CXX": "/nonexistent/cl", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")})
    found = matches(FALLBACK_LINE, result.stderr)
    assert [(match["where"], match["line"], match["kind"]) for match in found] == [(str(path), "5", "compile")], \
        describe(result)
    assert "/nonexistent/cl" in found[0]["reason"], found[0]["reason"]


def test_the_eager_setting_is_the_users_choice_and_no_warning():
    """ACESTEP_WINPATCH_COMPILE=eager is asked for, not fallen back to: nothing is shown, and
    status() still says why the model runs eagerly."""
    code = textwrap.dedent("""\
        import torch
        import acestep_winpatch
        model = torch.compile(torch.nn.Linear(4, 2))
        model(torch.ones(1, 4))
        status = acestep_winpatch.status()
        print("NOTE", status["notes"].get("compile"))
        print("FALLBACKS", sorted(status["fallbacks"]))
        """)
    result = run("-c", code, env={"ACESTEP_WINPATCH_COMPILE": "eager"})
    assert result.returncode == 0 and "Warning" not in result.stderr, describe(result)
    assert "NOTE compile policy is eager (ACESTEP_WINPATCH_COMPILE=eager" in result.stdout, describe(result)
    assert "FALLBACKS []" in result.stdout, describe(result)
