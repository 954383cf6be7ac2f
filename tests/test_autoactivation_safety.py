"""The start-up paths (sitecustomize and the ``.pth`` line) run in every Python process of an
environment, so they must never raise, write a file or touch the network, whatever state
the environment is in: torch broken at import, garbage in our variables, a half-installed
package.

Each case starts a real interpreter in a sandbox venv (``startup_sandbox``) whose first
``.pth`` installs an audit hook (PEP 578) before anything of ours runs. The hook ends the
process with exit code 97 on any socket connection or name lookup, and on any file opened
for writing, created, renamed or removed: ``os._exit`` cannot be swallowed by our
``except Exception`` blocks. Bytecode writing is switched off, so Python's own
``__pycache__`` does not count.
"""

import shutil

import pytest

from acestep_winpatch import pth
from startup_sandbox import REPOSITORY, Sandbox, describe, pythonpath

AUDIT_EXIT = 97

AUDIT_HOOK = """
import os, sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
FORBIDDEN = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
             "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.copyfile"}

def _winpatch_audit(event, args):
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
        if not writes:
            return
    elif event not in FORBIDDEN:
        return
    os.write(2, f"AUDIT VIOLATION {event} {args!r}\\n".encode("utf-8", "replace"))
    os._exit(%d)

sys.addaudithook(_winpatch_audit)
""" % AUDIT_EXIT

# What every case runs after start-up: the user's own imports, which must behave as without us.
USER_SCRIPT = """
import sys
try:
    import torchaudio
    print("TORCHAUDIO", type(torchaudio.load).__name__)
except Exception as error:
    print("TORCH_ERROR", type(error).__name__, str(error).splitlines()[0])
winpatch = sys.modules.get("acestep_winpatch")
if winpatch is not None:
    status = winpatch.status()
    print("ACTIVATED_BY", status["activated_by"])
    print("PROBLEMS", len(status["config"]["problems"]))
print("DONE")
"""

BROKEN_TORCH = """
raise OSError("[WinError 126] The specified module could not be found. "
              "Error loading \\"c10.dll\\" or one of its dependencies.")
"""


def audited_sandbox(folder, route, omit=()):
    """A sandbox with the audit hook and one activation route (``sitecustomize`` or ``pth``)."""
    sandbox = Sandbox(folder, omit=omit)
    sandbox.add_pth("aaa_audit", "import sys; exec(%r, {})" % AUDIT_HOOK)
    folders = []
    if route == "pth":
        sandbox.add_pth("acestep_winpatch", pth.LINE)  # what install-pth writes
    else:
        ours = sandbox.folder / "ours"
        ours.mkdir()
        shutil.copyfile(REPOSITORY / "sitecustomize_example.py", ours / "sitecustomize.py")
        folders.append(ours)
    return sandbox, folders


def run_user_script(sandbox, folders, env=None, first_on_path=()):
    extra = dict(env or {})
    if folders or first_on_path:
        extra["PYTHONPATH"] = pythonpath(*first_on_path, *folders)
    return sandbox.run("-c", USER_SCRIPT, env=extra)


def assert_started_cleanly(result):
    assert result.returncode != AUDIT_EXIT, describe(result)
    assert result.returncode == 0 and "DONE" in result.stdout, describe(result)
    assert "Traceback" not in result.stderr and "Error in sitecustomize" not in result.stderr, describe(result)


ROUTES = pytest.mark.parametrize("route", ["sitecustomize", "pth"])


@ROUTES
def test_healthy_start_writes_nothing_and_opens_no_connection(route, tmp_path):
    """The control case: the audit hook is armed and the plugin does activate."""
    sandbox, folders = audited_sandbox(tmp_path, route)
    result = run_user_script(sandbox, folders)
    assert_started_cleanly(result)
    assert "TORCHAUDIO WinpatchProxy" in result.stdout, describe(result)
    assert f"ACTIVATED_BY ['{route}']" in result.stdout, describe(result)


def test_the_audit_hook_catches_a_write(tmp_path):
    """Proves the hook is armed: a start-up line that writes a file ends the process."""
    sandbox, folders = audited_sandbox(tmp_path, "pth")
    sandbox.add_pth("zzz_writer", f"import os; open({str(tmp_path / 'written')!r}, 'w').close()")
    result = run_user_script(sandbox, folders)
    assert result.returncode == AUDIT_EXIT and "AUDIT VIOLATION open" in result.stderr, describe(result)


@ROUTES
def test_torch_broken_at_import(route, tmp_path):
    sandbox, folders = audited_sandbox(tmp_path, route)
    broken = sandbox.add_folder("broken", {"torch/__init__.py": BROKEN_TORCH})
    result = run_user_script(sandbox, folders, first_on_path=[broken])
    assert_started_cleanly(result)
    assert "TORCH_ERROR OSError [WinError 126]" in result.stdout, describe(result)
    assert f"ACTIVATED_BY ['{route}']" in result.stdout, describe(result)


GARBAGE = {
    "ACESTEP_WINPATCH": "yes please \udcff",
    "ACESTEP_WINPATCH_DISABLE": ", ,\t,",
    "ACESTEP_WINPATCH_COMPILE": "$(rm -rf ~) \udcfe",
    "ACESTEP_WINPATCH_LOG_LEVEL": "x" * 100_000,
}


@ROUTES
def test_garbage_in_every_variable(route, tmp_path):
    sandbox, folders = audited_sandbox(tmp_path, route)
    result = run_user_script(sandbox, folders, env=GARBAGE)
    assert_started_cleanly(result)
    assert "TORCHAUDIO WinpatchProxy" in result.stdout, describe(result)
    assert f"PROBLEMS {len(GARBAGE)}" in result.stdout, describe(result)


def package_modules():
    source = REPOSITORY / "acestep_winpatch"
    return sorted(str(path.relative_to(source)) for path in source.rglob("*.py")
                  if "__pycache__" not in path.parts)


@pytest.mark.parametrize("missing", package_modules())
def test_half_installed_package_starts_without_torch(missing, tmp_path):
    """Every module of the package missing in turn: start-up and a plain script still work."""
    sandbox, folders = audited_sandbox(tmp_path, "sitecustomize", omit=[missing])
    result = sandbox.run("-c", "print('DONE')", env={"PYTHONPATH": pythonpath(*folders)})
    assert result.returncode == 0 and result.stdout == "DONE\n", describe(result)
    assert result.stderr == "", describe(result)


@pytest.mark.parametrize("missing, route", [("proxies.py", "sitecustomize"), ("proxies.py", "pth"),
                                            ("registry.py", "sitecustomize"), ("patches/audio", "pth")])
def test_half_installed_package_with_torch(missing, route, tmp_path):
    sandbox, folders = audited_sandbox(tmp_path, route, omit=[missing])
    result = run_user_script(sandbox, folders)
    assert_started_cleanly(result)
    assert "TORCHAUDIO function" in result.stdout or "TORCHAUDIO WinpatchProxy" in result.stdout, describe(result)


@pytest.mark.parametrize("word", ["0", "false", " NO ", "Off"])
def test_pth_line_does_nothing_when_switched_off(word, tmp_path):
    sandbox, folders = audited_sandbox(tmp_path, "pth")
    code = "import sys; print('IMPORTED', sorted(m for m in sys.modules if m.startswith('acestep')))"
    result = sandbox.run("-c", code, env={"ACESTEP_WINPATCH": word})
    assert result.returncode == 0 and "IMPORTED []" in result.stdout, describe(result)
