"""``python -m acestep_winpatch``: help, usage errors, ``run``'s checks, ``status``, and output that
never fails on the console's encoding. Each case is a real subprocess."""

import json
import os
import subprocess
import sys

import pytest

import acestep_winpatch
from startup_sandbox import Sandbox, clean_environment, describe

NON_ASCII_FOLDER = "用户 Jürgen"


def cli(*arguments, env=None, cwd=None, python=sys.executable):
    return subprocess.run([str(python), "-m", "acestep_winpatch", *map(str, arguments)], capture_output=True,
                          text=True, encoding="utf-8", env=clean_environment(env), cwd=cwd, timeout=300)


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_help_goes_to_stdout(flag):
    result = cli(flag)
    assert result.returncode == 0 and result.stderr == "", describe(result)
    assert result.stdout.startswith("usage: python -m acestep_winpatch COMMAND"), describe(result)
    for command in ("run", "doctor", "status", "install-pth", "uninstall-pth"):
        assert f"\n  {command} " in result.stdout, command


@pytest.mark.parametrize("command", ["doctor", "status", "install-pth", "uninstall-pth"])
def test_each_command_has_its_help_on_stdout(command):
    result = cli(command, "--help")
    assert result.returncode == 0 and result.stderr == "", describe(result)
    assert result.stdout.startswith(f"usage: python -m acestep_winpatch {command}"), describe(result)


def test_no_command_is_a_usage_error():
    result = cli()
    assert result.returncode == 2 and result.stdout == "", describe(result)
    assert result.stderr.startswith("usage: python -m acestep_winpatch COMMAND"), describe(result)


def test_an_unknown_command_is_named_then_the_usage():
    result = cli("frobnicate")
    assert result.returncode == 2 and result.stdout == "", describe(result)
    first, rest = result.stderr.split("\n", 1)
    assert first == "unknown command 'frobnicate'", describe(result)
    assert rest.startswith("usage: python -m acestep_winpatch COMMAND"), describe(result)


@pytest.mark.parametrize("arguments", [["run"], ["run", "-m"]], ids=["nothing", "no module"])
def test_run_without_a_target_is_a_usage_error(arguments):
    result = cli(*arguments)
    assert result.returncode == 2 and result.stdout == "", describe(result)
    assert result.stderr == "usage: python -m acestep_winpatch run (script.py | -m module) [args ...]\n", describe(result)


def test_run_of_a_missing_script_says_what_python_says(tmp_path):
    python = subprocess.run([sys.executable, "missing.py"], capture_output=True, text=True, cwd=tmp_path,
                            env=clean_environment())
    ours = cli("run", "missing.py", cwd=tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == (python.returncode, "", python.stderr), describe(ours)
    assert ours.stderr.count("\n") == 1 and "can't open file" in ours.stderr, describe(ours)


def test_run_passes_the_scripts_own_options_through(tmp_path):
    script = tmp_path / "echo.py"
    script.write_text("import sys; print('ARGV', sys.argv[1:])\n", encoding="utf-8")
    result = cli("run", script, "--help", "-m", "x")
    assert result.returncode == 0 and "ARGV ['--help', '-m', 'x']" in result.stdout, describe(result)


def test_status_says_it_describes_a_fresh_interpreter():
    result = cli("status")
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("What acestep_winpatch does in a fresh interpreter of this environment"), \
        describe(result)
    assert "acestep_winpatch.status()" in result.stdout, describe(result)
    assert "  audio.load " in result.stdout and "pending" in result.stdout, describe(result)


def test_status_json_is_the_status_of_that_interpreter():
    result = cli("status", "--json")
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["describes"] == "a fresh interpreter: this command's own process"
    assert report["activated_by"] == ["import"] and set(report["patches"]) >= {"audio.load", "cuda.synchronize"}


def test_status_rejects_an_unknown_option():
    result = cli("status", "--yaml")
    assert result.returncode == 2 and "usage: python -m acestep_winpatch status" in result.stderr, describe(result)


def test_version_names_the_plugin_and_where_it_was_imported_from():
    result = cli("--version")
    folder = os.path.dirname(acestep_winpatch.__file__)
    assert result.stdout == f"acestep_winpatch {acestep_winpatch.__version__} ({folder})\n", describe(result)


def test_commands_write_utf8_on_a_cp1252_console_with_a_non_ascii_path(tmp_path):
    """``status`` and ``install-pth > file`` on Windows' default code page, in a user folder
    named in Chinese: UTF-8 out, exit 0, instead of UnicodeEncodeError."""
    sandbox = Sandbox(tmp_path / NON_ASCII_FOLDER)
    env = {"PYTHONIOENCODING": "cp1252"}
    for arguments in (["install-pth", sandbox.site_packages], ["status"], ["uninstall-pth", sandbox.site_packages]):
        result = cli(*arguments, env=env, python=sandbox.python, cwd=tmp_path)
        assert result.returncode == 0, describe(result)
        assert NON_ASCII_FOLDER in result.stdout, describe(result)
