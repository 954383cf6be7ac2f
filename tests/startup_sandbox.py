"""Throwaway virtual environments for the tests of the start-up activation paths.

The ``.pth`` route and sitecustomize only act when Python starts, so they can only be
tested by starting Python. A sandbox is a real venv (``python -m venv --without-pip``,
about 50 ms) or, where the running Python is the Windows embeddable distribution (no
``venv`` module there), a copy of that interpreter's folder with its own ``._pth`` file:
exactly what ComfyUI portable's ``python_embeded`` is. Its site-packages holds:

- ``aab_dependencies.pth``: one path line naming this venv's site-packages, so torch,
  torchaudio, numpy, wrapt... import from there. A plain path line does not run that
  folder's own ``.pth`` files, so the editable install of acestep_winpatch is not seen;
- ``acestep_winpatch/``: a copy of the package under test, as a real install would place it
  (``omit`` leaves modules out, for the half-installed case).

Tests add their own ``.pth`` files (named to sort before or after ``acestep_winpatch.pth``,
since site processes them alphabetically) and sitecustomize folders. Nothing outside the
sandbox folder is ever written: the ``.pth`` of the test run's own venv is never touched.

A ``._pth`` file makes Python ignore every ``PYTHON*`` variable, ``PYTHONPATH`` included; there,
the folders a test puts on ``PYTHONPATH`` are written into the sandbox's ``._pth`` instead
(ahead of the standard library, where ``PYTHONPATH`` puts them), which is how a portable
install puts a folder on the path.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import acestep_winpatch

PACKAGE_SOURCE = Path(acestep_winpatch.__file__).resolve().parent
REPOSITORY = Path(__file__).resolve().parent.parent  # the checkout these tests belong to
# The running interpreter's ._pth file, if it is an embeddable distribution.
EMBEDDED_PTH = next(Path(sys.executable).parent.glob("*._pth"), None)
OUR_VARIABLES = ("ACESTEP_WINPATCH", "ACESTEP_WINPATCH_DISABLE", "ACESTEP_WINPATCH_COMPILE",
                 "ACESTEP_WINPATCH_LOG_LEVEL")


def clean_environment(extra=None):
    """This process's environment without PYTHONPATH and our variables, plus ``extra``.

    ``None`` values in ``extra`` remove a variable. Bytecode writing is switched off so that
    "wrote no files" can be checked without Python's own ``__pycache__`` getting in the way.
    """
    environment = {key: value for key, value in os.environ.items()
                   if key not in OUR_VARIABLES and key != "PYTHONPATH"}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    for key, value in (extra or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


class Sandbox:
    """A venv in ``folder`` that sees this venv's libraries and a copy of acestep_winpatch.

    ``import_site=False`` (embeddable Python only) leaves ``import site`` out of the ``._pth``
    file, as the distribution ships it: site-packages are then plain path entries and no
    ``.pth`` file or sitecustomize runs.
    """

    def __init__(self, folder, omit=(), import_site=True):
        self.folder = Path(folder)
        self.dependencies = sysconfig.get_paths()["purelib"]
        self.import_site = import_site
        if EMBEDDED_PTH is None:
            assert import_site, "only the embeddable Python can start without site"
            self.root = self.folder / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.root)],
                           check=True, capture_output=True)
            self.python = self.root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        else:
            self.root = self.folder / "python_embeded"
            self.root.mkdir(parents=True)
            for entry in EMBEDDED_PTH.parent.iterdir():
                if entry.is_file() and entry != EMBEDDED_PTH:
                    shutil.copy2(entry, self.root)
            (self.root / "Lib" / "site-packages").mkdir(parents=True)
            self.python = self.root / Path(sys.executable).name
            self.write_pth_file()
        self.site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(self.root),
                                                                      "platbase": str(self.root)}))
        assert self.site_packages.is_dir(), self.site_packages
        if import_site:
            self.add_pth("aab_dependencies", self.dependencies)
        self.install_package(omit)

    def write_pth_file(self, pythonpath=()):
        """The embeddable sandbox's ``._pth``: ``pythonpath`` first, then what the distribution
        lists, then (without site, which would add them) site-packages and the dependencies."""
        lines = [*pythonpath, f"python{sys.version_info.major}{sys.version_info.minor}.zip", ".",
                 "Lib\\site-packages"]
        lines += ["import site"] if self.import_site else [self.dependencies]
        (self.root / EMBEDDED_PTH.name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def install_package(self, omit=()):
        """Copy the package under test into site-packages, leaving out ``omit`` (relative paths)."""
        target = self.site_packages / "acestep_winpatch"
        shutil.copytree(PACKAGE_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
        for relative in omit:
            path = target / relative
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        return target

    def add_pth(self, stem, line):
        """Write ``stem.pth`` with one line; site runs it if it starts with ``import``."""
        path = self.site_packages / f"{stem}.pth"
        path.write_text(line.rstrip("\n") + "\n", encoding="utf-8")
        return path

    def add_folder(self, name, files):
        """Create ``folder/name`` holding ``{relative file path: source text}``; return its path."""
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, text in files.items():
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_text(textwrap.dedent(text), encoding="utf-8")
        return folder

    def run(self, *args, env=None, cwd=None, timeout=240):
        """Run this sandbox's python with ``args`` in a clean environment plus ``env``."""
        if EMBEDDED_PTH is not None:
            folders = (env or {}).get("PYTHONPATH")
            self.write_pth_file(folders.split(os.pathsep) if folders else ())
        return subprocess.run([str(self.python), *map(str, args)], capture_output=True, text=True,
                              env=clean_environment(env), cwd=str(cwd or self.folder), timeout=timeout)


def pythonpath(*folders):
    return os.pathsep.join(str(folder) for folder in folders)


def describe(result):
    """Everything a failed assertion about a subprocess should show."""
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
