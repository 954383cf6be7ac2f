"""Every activation path, the master switch, the registry's apply/unapply semantics, and the
configuration, each exercised in a real, fresh interpreter.

The start-up paths (sitecustomize, ``.pth``, the launcher) run inside throwaway venvs
(``startup_sandbox``), so that no test ever writes a ``.pth`` into the venv running the suite.
Each path is tried with acestep_winpatch activated before torch/torchaudio are imported and
after (a ``.pth`` that imports torch first, as some distributions ship). In the environment
without FFmpeg, loading a file succeeds only if the patch really is in the call path.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import REPOSITORY, Sandbox, clean_environment, describe, pythonpath
from wrapper_runs import COUNT_OUR_LOAD_WRAPPER

HEAVY_MODULES = ("torch", "torchaudio", "numpy", "librosa", "soundfile", "wrapt")
FRAMES = int(RATE * SECONDS)

# Prints one ``REPORT {json}`` line describing what torchaudio.load is and what status() says.
REPORT = r'''
import json, sys, types

def winpatch_report(path=None, **extra):
    import torchaudio
    load = torchaudio.load
    inner = getattr(load, "__wrapped__", None)
    report = {
        "load_type": f"{type(load).__module__}.{type(load).__qualname__}",
        "inner_type": f"{type(inner).__module__}.{type(inner).__qualname__}",
        "inner_module": getattr(inner, "__module__", None),
        "winpatch_imported": "acestep_winpatch" in sys.modules,
        "proxies_imported": "acestep_winpatch.proxies" in sys.modules,
        **extra,
    }
    if "acestep_winpatch" in sys.modules:
        report["status"] = sys.modules["acestep_winpatch"].status()
    if path:
        try:
            waveform, rate = torchaudio.load(path)
            report["loaded"] = [list(waveform.shape), rate]
        except Exception as error:
            report["load_error"] = f"{type(error).__name__}: {error}"
    print("REPORT " + json.dumps(report, default=str), flush=True)
'''

PROXY_TYPE = "acestep_winpatch.proxies.WinpatchProxy"


def report_of(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and len(lines) == 1, describe(result)
    return json.loads(lines[0][len("REPORT "):])


def assert_attached(report, route):
    """torchaudio.load is our one proxy around torchaudio's own function, and it works."""
    assert report["load_type"] == PROXY_TYPE, report
    assert report["inner_type"] == "builtins.function" and report["inner_module"].startswith("torchaudio"), report
    assert report["status"]["patches"]["audio.load"]["state"] == "attached", report["status"]
    assert report["status"]["activated_by"] == [route], report["status"]
    assert report["status"]["waiting_for_imports"] == [], report["status"]
    assert report.get("loaded") == [[CHANNELS, FRAMES], RATE], report.get("load_error")


def assert_untouched(report):
    """torchaudio.load is torchaudio's own function and no proxy was ever built."""
    assert report["load_type"] == "builtins.function" and not report["proxies_imported"], report


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path)


def torch_first(sandbox):
    """Make torch and torchaudio import at start-up, before acestep_winpatch's own ``.pth``."""
    sandbox.add_pth("aac_torch_first", "import torch, torchaudio")


ORDERS = pytest.mark.parametrize("order", ["winpatch_first", "torch_first"])


# --- import acestep_winpatch ----------------------------------------------------------------

@ORDERS
def test_import_activates_before_or_after_torch(order, wav):
    imports = ["import acestep_winpatch", "import torch, torchaudio"]
    if order == "torch_first":
        imports.reverse()
    code = REPORT + "\n".join(imports) + f"\nwinpatch_report({wav!r})\n"
    assert_attached(report_of(run_python(code, env=clean_environment())), "import")


def test_import_loads_none_of_the_heavy_modules():
    code = f"""
        import sys
        import acestep_winpatch
        acestep_winpatch.status(); acestep_winpatch.apply(); acestep_winpatch.unapply(); acestep_winpatch.apply()
        print("HEAVY", sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules))
        print("PENDING", acestep_winpatch.status()["patches"]["audio.load"]["state"])
    """
    result = run_python(code, env=clean_environment({"ACESTEP_WINPATCH_LOG_LEVEL": "DEBUG"}))
    assert "HEAVY []" in result.stdout, describe(result)
    assert "PENDING pending" in result.stdout, describe(result)


def test_status_tells_pending_until_the_package_is_imported():
    code = REPORT + "import acestep_winpatch\nwinpatch_report(before=acestep_winpatch.status())\n"
    report = report_of(run_python(code, env=clean_environment()))
    before = report["before"]
    assert before["applied"] and before["patches"]["audio.load"]["state"] == "pending", before
    assert "import torchaudio" in before["patches"]["audio.load"]["detail"], before
    assert "torchaudio" in before["waiting_for_imports"], before
    assert report["status"]["patches"]["audio.load"]["state"] == "attached", report["status"]
    assert report["load_type"] == PROXY_TYPE


# --- sitecustomize ----------------------------------------------------------------------------

PRE_EXISTING_SITECUSTOMIZE = """
    import builtins
    builtins.PRE_EXISTING_SITECUSTOMIZE_RUNS = getattr(builtins, "PRE_EXISTING_SITECUSTOMIZE_RUNS", 0) + 1
"""


def our_sitecustomize(sandbox):
    folder = sandbox.folder / "ours"
    folder.mkdir()
    shutil.copyfile(REPOSITORY / "sitecustomize_example.py", folder / "sitecustomize.py")
    return folder


@ORDERS
def test_sitecustomize_activates(order, sandbox, wav):
    if order == "torch_first":
        torch_first(sandbox)
    script = sandbox.add_folder("app", {"main.py": REPORT + f"winpatch_report({wav!r})\n"}) / "main.py"
    result = sandbox.run(script, env={"PYTHONPATH": pythonpath(our_sitecustomize(sandbox))})
    assert_attached(report_of(result), "sitecustomize")


@pytest.mark.parametrize("where", ["pythonpath", "site_packages"])
def test_sitecustomize_chains_the_one_already_there(where, sandbox):
    folders = [our_sitecustomize(sandbox)]
    if where == "pythonpath":
        folders.append(sandbox.add_folder("theirs", {"sitecustomize.py": PRE_EXISTING_SITECUSTOMIZE}))
    else:
        sandbox.add_folder(sandbox.site_packages, {"sitecustomize.py": PRE_EXISTING_SITECUSTOMIZE})
    code = textwrap.dedent("""
        import builtins, sys
        import acestep_winpatch
        print("RUNS", getattr(builtins, "PRE_EXISTING_SITECUSTOMIZE_RUNS", 0))
        print("ACTIVATED_BY", acestep_winpatch.status()["activated_by"])
        print("ORIGIN", sys.modules["sitecustomize"].__file__)
    """)
    result = sandbox.run("-c", code, env={"PYTHONPATH": pythonpath(*folders)})
    assert result.returncode == 0, describe(result)
    assert "RUNS 1" in result.stdout, describe(result)
    assert "ACTIVATED_BY ['sitecustomize']" in result.stdout, describe(result)
    assert f"ORIGIN {folders[0] / 'sitecustomize.py'}" in result.stdout, describe(result)


@pytest.mark.parametrize("theirs", ["runs", "raises"])
def test_sitecustomize_left_after_uninstall_still_runs_the_one_it_hides(theirs, sandbox, tmp_path):
    """The example copied into an environment that no longer has acestep_winpatch (a second venv
    without it): it must run the sitecustomize behind it, and an error there reads as Python's own."""
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True, capture_output=True)
    body = PRE_EXISTING_SITECUSTOMIZE if theirs == "runs" else "raise ValueError('their own bug')\n"
    folders = pythonpath(our_sitecustomize(sandbox), sandbox.add_folder("theirs", {"sitecustomize.py": body}))
    code = ("import builtins, sys; print('RUNS', getattr(builtins, 'PRE_EXISTING_SITECUSTOMIZE_RUNS', 0), "
            "sorted(name for name in sys.modules if name.startswith('acestep')))")
    result = subprocess.run([str(other / "bin" / "python"), "-c", code], capture_output=True, text=True,
                            env=clean_environment({"PYTHONPATH": folders}))
    assert result.returncode == 0, describe(result)
    if theirs == "runs":
        assert "RUNS 1 []" in result.stdout and result.stderr == "", describe(result)
    else:
        assert "RUNS 0 []" in result.stdout, describe(result)
        assert result.stderr == "Error in sitecustomize; set PYTHONVERBOSE for traceback:\nValueError: their own bug\n"


def test_a_failing_chained_sitecustomize_is_reported_as_python_reports_it(sandbox):
    theirs = sandbox.add_folder("theirs", {"sitecustomize.py": "raise ValueError('their own bug')\n"})
    code = "import acestep_winpatch; print('ACTIVATED_BY', acestep_winpatch.status()['activated_by'])"
    result = sandbox.run("-c", code, env={"PYTHONPATH": pythonpath(our_sitecustomize(sandbox), theirs)})
    assert result.returncode == 0, describe(result)
    assert "Error in sitecustomize; set PYTHONVERBOSE for traceback:\nValueError: their own bug" in result.stderr
    assert "ACTIVATED_BY ['sitecustomize']" in result.stdout, describe(result)


# --- the .pth route ---------------------------------------------------------------------------

def install_pth(sandbox):
    result = sandbox.run("-m", "acestep_winpatch", "install-pth", sandbox.site_packages)
    assert result.returncode == 0, describe(result)
    installed = sandbox.site_packages / "acestep_winpatch.pth"
    assert installed.is_file() and str(installed) in result.stdout, describe(result)
    return installed


@ORDERS
def test_pth_activates(order, sandbox, wav):
    if order == "torch_first":
        torch_first(sandbox)
    install_pth(sandbox)
    result = sandbox.run("-c", REPORT + f"winpatch_report({wav!r})\n")
    assert_attached(report_of(result), "pth")


def test_pth_install_uninstall_round_trip_in_the_default_folder(sandbox):
    """Without a folder, install-pth writes into the running interpreter's site-packages."""
    result = sandbox.run("-m", "acestep_winpatch", "install-pth")
    installed = sandbox.site_packages / "acestep_winpatch.pth"
    assert result.returncode == 0 and installed.is_file(), describe(result)
    started = sandbox.run("-c", "import sys; print('ACTIVE', 'acestep_winpatch' in sys.modules)")
    assert "ACTIVE True" in started.stdout, describe(started)
    result = sandbox.run("-m", "acestep_winpatch", "uninstall-pth")
    assert result.returncode == 0 and not installed.exists(), describe(result)
    started = sandbox.run("-c", "import sys; print('ACTIVE', 'acestep_winpatch' in sys.modules)")
    assert "ACTIVE False" in started.stdout, describe(started)
    again = sandbox.run("-m", "acestep_winpatch", "uninstall-pth")
    assert again.returncode == 0 and "no acestep_winpatch.pth" in again.stdout, describe(again)


# --- the launcher -----------------------------------------------------------------------------

LAUNCHED = """
    import json, sys
    import __main__
    print("LAUNCHED " + json.dumps({
        "name": __name__, "argv": sys.argv, "path": sys.path,
        "main_is_this_module": vars(__main__) is globals(),
        "spec": getattr(__spec__, "name", None), "package": __package__,
    }))
    raise SystemExit(int(sys.argv[-1]))
"""


def launched(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("LAUNCHED ")]
    assert len(lines) == 1, describe(result)
    return json.loads(lines[0][len("LAUNCHED "):])


@pytest.mark.parametrize("flags", [[], ["-P"], ["-I"]], ids=["default", "safe_path", "isolated"])
@pytest.mark.parametrize("where", ["in_place", "symlinked"])
def test_launcher_runs_a_script_as_python_would(where, flags, sandbox):
    """argv, __name__, sys.path and the exit code match a plain ``python script.py``, also where
    the script is a symlink (Python puts its target's folder first) and under ``-P``/``-I`` (it
    puts nothing first)."""
    sandbox.add_folder("work/tools", {"show.py": LAUNCHED})
    if where == "symlinked":
        (sandbox.folder / "work" / "links").mkdir()
        os.symlink(sandbox.folder / "work" / "tools" / "show.py", sandbox.folder / "work" / "links" / "show.py")
    arguments = [f"{'links' if where == 'symlinked' else 'tools'}/show.py", "--flag", "two words", "é", "3"]
    plain = sandbox.run(*flags, *arguments, cwd=sandbox.folder / "work")
    through = sandbox.run(*flags, "-m", "acestep_winpatch", "run", *arguments, cwd=sandbox.folder / "work")
    assert plain.returncode == 3 and through.returncode == 3, describe(through)
    assert launched(through) == launched(plain)
    assert launched(through)["name"] == "__main__" and launched(through)["main_is_this_module"]


@pytest.mark.parametrize("safe_path", [False, True], ids=["default", "safe_path"])
def test_the_launchers_sys_path_for_each_kind_of_script(safe_path, tmp_path):
    """The decision alone: a file puts its (real) folder first unless safe_path; a folder or a
    zip file is put first by runpy itself, so the launcher only drops what ``-m`` added."""
    from acestep_winpatch.launcher import sys_path_for_script

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "script.py").write_text("")
    (tmp_path / "link.py").symlink_to(tmp_path / "real" / "script.py")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text("")
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as archive:
        archive.writestr("__main__.py", "")
    launcher_path = ["/stdlib.zip", "/lib"] if safe_path else ["/working/directory", "/stdlib.zip", "/lib"]
    rest = ["/stdlib.zip", "/lib"]
    for script, first in [(tmp_path / "real" / "script.py", [str(tmp_path / "real")]),
                          (tmp_path / "link.py", [str(tmp_path / "real")]),
                          (tmp_path / "app", []), (tmp_path / "app.zip", [])]:
        expected = rest if safe_path else first + rest
        assert sys_path_for_script(str(script), launcher_path, safe_path) == expected, script


@pytest.fixture(scope="module")
def pth_interpreter(tmp_path_factory):
    """An interpreter laid out as Windows' embeddable Python (ComfyUI portable's python_embeded):
    the interpreter with a ``._pth`` file beside it, the standard library only in a zip file, the
    package under ``Lib/site-packages``. CPython reads a ``._pth`` file beside the executable on
    every platform since 3.11 (Modules/getpath.py): it then sets ``sys.path`` from the file alone
    and ``safe_path``, exactly as there. A symlink to this venv's base interpreter stands for
    ``python.exe``. Returns a function writing the ``._pth`` (with or without ``import site``)."""
    folder = tmp_path_factory.mktemp("python_embeded")
    executable = os.path.realpath(sys._base_executable)
    (folder / os.path.basename(executable)).symlink_to(executable)
    stdlib = os.path.dirname(os.__file__)
    zip_name = f"python{sys.version_info.major}{sys.version_info.minor}.zip"
    with zipfile.ZipFile(folder / zip_name, "w") as archive:  # stored: zipimport needs no zlib
        for root, folders, files in os.walk(stdlib):
            folders[:] = [name for name in folders
                          if name not in ("site-packages", "test", "idlelib", "tkinter", "__pycache__")]
            for name in files:
                if name.endswith(".py"):
                    archive.write(os.path.join(root, name), os.path.relpath(os.path.join(root, name), stdlib))
    shutil.copytree(REPOSITORY / "acestep_winpatch", folder / "Lib" / "site-packages" / "acestep_winpatch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    extensions = next(path for path in sys.path if os.path.basename(path) == "lib-dynload")

    def with_pth(import_site):
        lines = [zip_name, extensions, ".", "Lib/site-packages"] + (["import site"] if import_site else [])
        (folder / (os.path.basename(executable) + "._pth")).write_text("\n".join(lines) + "\n")
        return folder / os.path.basename(executable)

    return with_pth


@pytest.mark.skipif(sys.version_info < (3, 11), reason="CPython reads ._pth files outside Windows from 3.11 on")
@pytest.mark.parametrize("form", ["script", "module"])
@pytest.mark.parametrize("import_site", [False, True], ids=["no_site", "import_site"])
def test_launcher_on_an_embeddable_python_runs_as_python_does(import_site, form, pth_interpreter, tmp_path):
    """There ``sys.path[0]`` is the stdlib zip and Python never adds the script's folder: a
    launcher that put the folder there lost the standard library (``No module named 'zipfile'``)."""
    python = pth_interpreter(import_site)
    (python.parent / "shown.py").write_text(textwrap.dedent(LAUNCHED), encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "show.py").write_text(textwrap.dedent(LAUNCHED), encoding="utf-8")
    target = ["-m", "shown"] if form == "module" else [str(tmp_path / "app" / "show.py")]
    run = [str(python), "-c", "import sys; print(sys.flags.safe_path, sys.path[0])"]
    probe = subprocess.run(run, capture_output=True, text=True, env=clean_environment(), cwd=tmp_path)
    assert probe.stdout.split() == ["True", str(python.parent / f"python{sys.version_info.major}"
                                                 f"{sys.version_info.minor}.zip")], describe(probe)
    plain = subprocess.run([str(python), *target, "a b", "0"], capture_output=True, text=True,
                           env=clean_environment(), cwd=tmp_path)
    through = subprocess.run([str(python), "-m", "acestep_winpatch", "run", *target, "a b", "0"],
                             capture_output=True, text=True, env=clean_environment(), cwd=tmp_path)
    assert plain.returncode == 0 and through.returncode == 0, describe(through)
    assert launched(through) == launched(plain), describe(through)


def test_launcher_runs_a_module_as_python_would(sandbox):
    sandbox.add_folder("work/tool", {"__init__.py": "", "show.py": LAUNCHED})
    arguments = ["-m", "tool.show", "a", "b c", "0"]
    work = {"PYTHONPATH": pythonpath(sandbox.folder / "work")}  # a ._pth Python never searches the working folder
    plain = sandbox.run(*arguments, cwd=sandbox.folder / "work", env=work)
    through = sandbox.run("-m", "acestep_winpatch", "run", *arguments, cwd=sandbox.folder / "work", env=work)
    assert plain.returncode == 0 and through.returncode == 0, describe(through)
    assert launched(through) == launched(plain)
    assert launched(through)["name"] == "__main__" and launched(through)["spec"] == "tool.show"


def test_launcher_propagates_an_uncaught_exception_as_python_does(sandbox):
    script = sandbox.add_folder("app", {"fail.py": "raise KeyError('from the user script')\n"}) / "fail.py"
    through = sandbox.run("-m", "acestep_winpatch", "run", script)
    assert through.returncode == 1, describe(through)
    assert "KeyError: 'from the user script'" in through.stderr, describe(through)


@pytest.mark.parametrize("theirs", ["none", "own"])
def test_launcher_children_running_another_python_keep_its_own_sitecustomize(theirs, sandbox, tmp_path):
    """The launcher puts its sitecustomize shim on PYTHONPATH for every child. A child that runs
    another interpreter (here a second venv, without acestep_winpatch) finds the shim first: it
    must still run that interpreter's own sitecustomize, and do nothing else."""
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True, capture_output=True)
    if theirs == "own":
        their_site_packages = sysconfig.get_path("purelib", vars={"base": str(other), "platbase": str(other)})
        sandbox.add_folder(their_site_packages, {"sitecustomize.py": PRE_EXISTING_SITECUSTOMIZE})
    child = ("import builtins, sys; print('CHILD', getattr(builtins, 'PRE_EXISTING_SITECUSTOMIZE_RUNS', 0), "
             "sorted(name for name in sys.modules if name.startswith('acestep')), "
             "sys.modules['sitecustomize'].__file__.endswith('_site/sitecustomize.py'))")
    parent = sandbox.add_folder("app", {"parent.py": f"""
        import subprocess, sys
        result = subprocess.run([{str(other / "bin" / "python")!r}, "-c", {child!r}], capture_output=True, text=True)
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
    """}) / "parent.py"
    result = sandbox.run("-m", "acestep_winpatch", "run", parent)
    assert result.returncode == 0 and result.stderr == "", describe(result)
    assert f"CHILD {1 if theirs == 'own' else 0} [] True" in result.stdout, describe(result)


@pytest.mark.parametrize("form, order", [("script", "winpatch_first"), ("script", "torch_first"),
                                         ("module", "winpatch_first")])
def test_launcher_activates(form, order, sandbox, wav):
    if order == "torch_first":
        torch_first(sandbox)
    app = sandbox.add_folder("app", {"probe.py": REPORT + f"winpatch_report({wav!r})\n"})
    target = ["-m", "probe"] if form == "module" else [app / "probe.py"]
    folder = {"PYTHONPATH": pythonpath(app)} if form == "module" else None  # a ._pth Python never searches the working folder
    result = sandbox.run("-m", "acestep_winpatch", "run", *target, cwd=app, env=folder)
    assert_attached(report_of(result), "launcher")


# --- the master switch ------------------------------------------------------------------------

def test_master_switch_off_import_does_nothing(wav):
    code = REPORT + f"import acestep_winpatch\nwinpatch_report({wav!r})\n"
    report = report_of(run_python(code, env=clean_environment({"ACESTEP_WINPATCH": "0"})))
    assert_untouched(report)
    status = report["status"]
    assert not status["applied"] and status["activated_by"] == [] and status["waiting_for_imports"] == []
    assert {patch["state"] for patch in status["patches"].values()} == {"not applied"}, status


@pytest.mark.parametrize("word", ["0", "false", "No", " OFF "])
def test_master_switch_off_pth_line_imports_nothing(word, sandbox):
    install_pth(sandbox)
    code = "import sys; print('IMPORTED', sorted(m for m in sys.modules if m.startswith('acestep')))"
    result = sandbox.run("-c", code, env={"ACESTEP_WINPATCH": word})
    assert "IMPORTED []" in result.stdout, describe(result)
    switched_on = sandbox.run("-c", code, env={"ACESTEP_WINPATCH": "1"})
    assert "'acestep_winpatch'" in switched_on.stdout, describe(switched_on)


def test_master_switch_off_sitecustomize_does_nothing(sandbox, wav):
    result = sandbox.run("-c", REPORT + f"winpatch_report({wav!r})\n",
                         env={"PYTHONPATH": pythonpath(our_sitecustomize(sandbox)), "ACESTEP_WINPATCH": "off"})
    report = report_of(result)
    assert_untouched(report)
    assert not report["status"]["applied"], report["status"]


# --- apply / unapply semantics ----------------------------------------------------------------

@ORDERS
def test_double_apply_wraps_once(order, wav):
    imports = ["import acestep_winpatch", "import torchaudio"]
    if order == "torch_first":
        imports.reverse()
    code = "\n".join(imports) + COUNT_OUR_LOAD_WRAPPER + f"""
import types
first = torchaudio.load
acestep_winpatch.apply(); acestep_winpatch.apply()
assert torchaudio.load is first, "a second apply() replaced the proxy"
assert type(first.__wrapped__) is types.FunctionType, type(first.__wrapped__)
torchaudio.load({wav!r})
assert our_wrapper_runs[0] == 1, our_wrapper_runs
assert acestep_winpatch.status()["patches"]["audio.load"]["state"] == "attached"
print("OK")
"""
    assert "OK" in run_python(code, env=clean_environment()).stdout


@ORDERS
def test_apply_unapply_apply_restores_the_exact_original(order, wav):
    imports = ["import acestep_winpatch", "import torchaudio"]
    if order == "torch_first":
        imports.reverse()
    code = "\n".join(imports) + f"""
import types
from acestep_winpatch import registry
original = registry.original("audio.load")
assert type(original) is types.FunctionType and original.__module__.startswith("torchaudio"), original
acestep_winpatch.unapply()
assert torchaudio.load is original
assert not acestep_winpatch.is_applied()
assert acestep_winpatch.status()["patches"]["audio.load"]["state"] == "not applied"
acestep_winpatch.apply()
assert type(torchaudio.load).__name__ == "WinpatchProxy" and torchaudio.load.__wrapped__ is original
assert acestep_winpatch.status()["patches"]["audio.load"]["state"] == "attached"
waveform, rate = torchaudio.load({wav!r})
assert list(waveform.shape) == [{CHANNELS}, {FRAMES}] and rate == {RATE}
acestep_winpatch.unapply()
assert torchaudio.load is original
print("OK")
"""
    assert "OK" in run_python(code, env=clean_environment()).stdout


def test_patched_functions_pickle_by_reference_and_copy_as_themselves():
    """As the functions they stand for: a dataset or config that keeps ``torchaudio.load`` still
    pickles for a spawned worker, and a pickle made while patched gives, where it is loaded, what
    that attribute is there (after unapply(): torchaudio's own function)."""
    code = """
import copy, json, pickle, types, torch, torchaudio, acestep_winpatch
from acestep_winpatch import registry
targets = {"audio.load": (torchaudio, "load"), "audio.save": (torchaudio, "save"),
           "compile.torch_compile": (torch, "compile"), "cuda.synchronize": (torch.cuda, "synchronize")}
report, pickles = {}, {}
for name, (module, attribute) in targets.items():
    value = getattr(module, attribute)
    pickles[name] = pickle.dumps({"kept": value})
    report[name] = [type(value).__name__, pickle.loads(pickles[name])["kept"] is value,
                    copy.copy(value) is value, copy.deepcopy([value])[0] is value]
acestep_winpatch.unapply()
report["unpickled_after_unapply"] = [pickle.loads(data)["kept"] is registry.original(name)
                                     for name, data in pickles.items()]
print("REPORT " + json.dumps(report))
"""
    report = report_of(run_python(code, env=clean_environment()))
    for name in ("audio.load", "audio.save", "compile.torch_compile", "cuda.synchronize"):
        assert report[name] == ["WinpatchProxy", True, True, True], (name, report)
    assert report["unpickled_after_unapply"] == [True] * 4, report


def test_unapply_under_a_foreign_wrapper_leaves_it_and_passes_through(wav):
    """A wrapper without ``__wrapped__`` hides our proxy: unapply() must leave it, say so, and
    our proxy inside must pass calls straight through; a later apply() must not wrap twice."""
    code = "import torchaudio\nimport acestep_winpatch\n" + COUNT_OUR_LOAD_WRAPPER + f"""
ours = torchaudio.load
foreign_runs = [0]
def foreign_load(*args, **kwargs):
    foreign_runs[0] += 1
    return ours(*args, **kwargs)
torchaudio.load = foreign_load
acestep_winpatch.unapply()
assert torchaudio.load is foreign_load
state = acestep_winpatch.status()["patches"]["audio.load"]
assert state["state"] == "left in place" and "other code" in state["detail"], state
try:
    torchaudio.load({wav!r})
except RuntimeError as error:
    assert "libtorchcodec" in str(error), error  # without FFmpeg, the original's genuine error
assert foreign_runs[0] == 1 and our_wrapper_runs[0] == 0, (foreign_runs, our_wrapper_runs)
acestep_winpatch.apply()
waveform, rate = torchaudio.load({wav!r})
assert list(waveform.shape) == [{CHANNELS}, {FRAMES}]
assert our_wrapper_runs[0] == 1, f"our wrapper ran {{our_wrapper_runs[0]}} times for one call"
print("OK")
"""
    assert "OK" in run_python(code, env=clean_environment()).stdout


def test_a_failing_patch_never_breaks_the_import_and_status_says_why(tmp_path, wav):
    """Three real attachment failures: a module that does not exist, a stand-in that cannot be
    built, and a read-only module attribute. ``import`` still works; status() names the cause."""
    (tmp_path / "readonly_library.py").write_text(
        "import sys, types\n"
        "def _load(path):\n    return 'loaded ' + path\n"
        "class _ReadOnly(types.ModuleType):\n"
        "    @property\n    def load(self):\n        return _load\n"
        "sys.modules[__name__].__class__ = _ReadOnly\n"
    )
    code = f"""
import logging, sys
logging.basicConfig(format="LOG %(levelname)s %(message)s")
sys.path.insert(0, {str(tmp_path)!r})
import acestep_winpatch
from acestep_winpatch import registry

def passthrough(wrapped, instance, args, kwargs):
    return wrapped(*args, **kwargs)

def cannot_build():
    raise OSError("the stand-in cannot be built here")

registry.register([
    registry.Patch("test.missing_module", "torchaudio.no_such_module", "load", passthrough),
    registry.Patch("test.broken_stand_in", "torchaudio", "no_such_function", passthrough, create=cannot_build),
    registry.Patch("test.read_only", "readonly_library", "load", passthrough),
])
acestep_winpatch.apply()
import torchaudio
import readonly_library
patches = acestep_winpatch.status()["patches"]
for name in ("test.missing_module", "test.broken_stand_in", "test.read_only", "audio.load"):
    print("STATE", name, patches[name]["state"], "|", patches[name]["detail"])
assert not hasattr(torchaudio, "no_such_function")
assert readonly_library.load("x") == "loaded x"
print("LOADED", list(torchaudio.load({wav!r})[0].shape))
acestep_winpatch.apply()
"""
    result = run_python(code, env=clean_environment())
    out, err = result.stdout, result.stderr
    assert "STATE test.missing_module failed | LookupError: torchaudio.no_such_module" in out, describe(result)
    assert "STATE test.broken_stand_in failed | OSError: the stand-in cannot be built here" in out, describe(result)
    assert "STATE test.read_only failed | AttributeError:" in out, describe(result)
    assert "STATE audio.load attached" in out and f"LOADED [{CHANNELS}, {FRAMES}]" in out, describe(result)
    for target in ("torchaudio.no_such_module.load", "torchaudio.no_such_function", "readonly_library.load"):
        assert err.count(f"could not patch {target}") == 1, describe(result)


# --- configuration ----------------------------------------------------------------------------

BOOLEAN_WORDS = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False,
                 "on": True, "off": False}


@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.title], ids=["lower", "upper", "title"])
@pytest.mark.parametrize("word", sorted(BOOLEAN_WORDS))
def test_master_switch_accepts_every_boolean_word_in_any_case(word, spelling):
    code = "import acestep_winpatch; print('APPLIED', acestep_winpatch.is_applied())"
    result = run_python(code, env=clean_environment({"ACESTEP_WINPATCH": f" {spelling(word)} "}))
    assert f"APPLIED {BOOLEAN_WORDS[word]}" in result.stdout, describe(result)
    assert result.stderr == "", describe(result)


@pytest.mark.parametrize("variable, value, accepted", [
    ("ACESTEP_WINPATCH", "maybe", "1/true/yes/on/0/false/no/off"),
    ("ACESTEP_WINPATCH_DISABLE", ",, ,", "comma-separated list of patch names"),
    ("ACESTEP_WINPATCH_COMPILE", "rm -rf /", "attempt, eager, or a torch.compile backend name"),
    ("ACESTEP_WINPATCH_LOG_LEVEL", "loud", "DEBUG/INFO/WARNING/ERROR/CRITICAL"),
])
def test_an_invalid_value_warns_once_and_never_crashes(variable, value, accepted):
    code = """
        import acestep_winpatch
        acestep_winpatch.apply(); acestep_winpatch.apply()
        print("APPLIED", acestep_winpatch.is_applied())
    """
    result = run_python(code, env=clean_environment({variable: value}))
    warnings = [line for line in result.stderr.splitlines() if "ConfigWarning" in line]
    assert len(warnings) == 1, describe(result)
    assert f"{variable}={value!r}" in warnings[0] and accepted in warnings[0], warnings[0]
    assert "APPLIED True" in result.stdout, describe(result)


def test_disable_warns_once_about_a_name_that_matches_no_patch():
    code = """
        import acestep_winpatch
        acestep_winpatch.apply()
        print("DISABLED", acestep_winpatch.status()["config"]["disabled"])
    """
    result = run_python(code, env=clean_environment({"ACESTEP_WINPATCH_DISABLE": "audoi,cuda"}))
    warnings = [line for line in result.stderr.splitlines() if "ConfigWarning" in line]
    assert len(warnings) == 1, describe(result)
    assert "ACESTEP_WINPATCH_DISABLE='audoi' is not valid (names of patches or groups" in warnings[0], warnings[0]
    assert "DISABLED ['audoi', 'cuda']" in result.stdout, describe(result)


def test_disable_accepts_names_groups_and_star():
    """The first value comes from the real start-up environment; apply() re-reads the
    environment, so the others are set in ``os.environ`` before calling it."""
    code = """
import json, os
import torch, torchaudio
import acestep_winpatch
from acestep_winpatch.proxies import WinpatchProxy
seen = {}
for value in ("audio.load", " Audio ", "*", "AUDIO.LOAD, compile"):
    os.environ["ACESTEP_WINPATCH_DISABLE"] = value
    if value != "audio.load":
        acestep_winpatch.apply()
    seen[value] = {"patches": acestep_winpatch.status()["patches"],
                   "load_is_proxy": type(torchaudio.load) is WinpatchProxy}
print("SEEN " + json.dumps(seen))
"""
    result = run_python(code, env=clean_environment({"ACESTEP_WINPATCH_DISABLE": "audio.load"}))
    seen = json.loads(result.stdout.split("SEEN ", 1)[1])
    names = set(seen["*"]["patches"])
    assert "audio.load" in names, names
    expected = {
        "audio.load": {"audio.load"},
        " Audio ": {name for name in names if name.startswith("audio.")},
        "*": names,
        "AUDIO.LOAD, compile": {"audio.load"} | {name for name in names if name.startswith("compile.")},
    }
    assert len(expected[" Audio "]) > 1, "the audio group should hold more than audio.load"
    for value, disabled in expected.items():
        for name, state in seen[value]["patches"].items():
            if name in disabled:
                assert state == {"target": state["target"], "state": "disabled",
                                 "detail": f"by environment ACESTEP_WINPATCH_DISABLE={value}"}, (value, name)
            else:
                assert state["state"] in ("attached", "pending", "not applicable"), (value, name, state)
        assert not seen[value]["load_is_proxy"], value


def test_apply_arguments_override_the_environment(wav):
    code = REPORT + f"""
import torchaudio
import acestep_winpatch
from acestep_winpatch import config
assert acestep_winpatch.status()["patches"]["audio.load"]["state"] == "disabled"
acestep_winpatch.apply(disable=[], compile="attempt")
winpatch_report({wav!r}, policy=config.current().compile_policy)
"""
    environment = {"ACESTEP_WINPATCH_DISABLE": "*", "ACESTEP_WINPATCH_COMPILE": "eager"}
    report = report_of(run_python(code, env=clean_environment(environment)))
    assert report["load_type"] == PROXY_TYPE and report["loaded"] == [[CHANNELS, FRAMES], RATE], report
    assert report["status"]["patches"]["audio.load"]["state"] == "attached"
    sources = report["status"]["config"]["sources"]
    assert sources["ACESTEP_WINPATCH_DISABLE"] == "apply(disable=[])"
    assert report["policy"] == "attempt" and sources["ACESTEP_WINPATCH_COMPILE"] == "apply(compile='attempt')"


def test_apply_log_level_overrides_the_environment_after_the_logger_exists():
    """torchaudio imported first: attaching at import already used the logger (at ERROR)."""
    code = """
        import logging
        import torchaudio
        import acestep_winpatch
        acestep_winpatch.apply(log_level="DEBUG")
        print("SETTING", acestep_winpatch.status()["config"]["log_level"])
        print("LOGGER", logging.getLevelName(logging.getLogger("acestep_winpatch").getEffectiveLevel()))
    """
    result = run_python(code, env=clean_environment({"ACESTEP_WINPATCH_LOG_LEVEL": "ERROR"}))
    assert "SETTING DEBUG" in result.stdout, describe(result)
    assert "LOGGER DEBUG" in result.stdout, "apply(log_level='DEBUG') did not reach the logger\n" + describe(result)


def test_apply_rejects_invalid_explicit_arguments():
    code = """
        import acestep_winpatch
        for arguments in ({"compile": "no spaces allowed"}, {"log_level": "loud"}):
            try:
                acestep_winpatch.apply(**arguments)
            except ValueError as error:
                print("REJECTED", error)
    """
    result = run_python(code, env=clean_environment())
    assert result.stdout.count("REJECTED") == 2, describe(result)
