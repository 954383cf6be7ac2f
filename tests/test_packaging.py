"""What ``pip install acestep_winpatch`` and a developer's clone get.

The sdist and the wheel are built from a copy of the repository with ``python -m build`` (the
wheel from the sdist, as an index serves it); the wheel goes into a clean venv without torch,
where the package must import and doctor must say that torch is missing. Editable installs
are made into clean venvs too, from a copy whose folder is named like the package, as a clone
is, and used from the folder holding it. ``build`` and setuptools come from the package index
through pip. Nothing is written outside pytest's temporary folders.
"""

import email
import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile

import pytest

import acestep_winpatch
from startup_sandbox import REPOSITORY, clean_environment, describe

COPIED_OUT = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", "results")
HEAVY_MODULES = ("torch", "torchaudio", "numpy", "librosa", "soundfile", "wrapt")
PYPROJECT = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))


def run(*arguments, cwd, timeout=600):
    result = subprocess.run([*map(str, arguments)], capture_output=True, text=True, cwd=cwd,
                            env=clean_environment(), timeout=timeout)
    assert result.returncode == 0, describe(result)
    return result


def clone(folder):
    """A copy of the repository in ``folder/acestep_winpatch``, named like the package as a clone is."""
    target = folder / "acestep_winpatch"
    shutil.copytree(REPOSITORY, target, ignore=COPIED_OUT)
    return target


def clean_venv(folder):
    """A venv holding nothing; pip (this venv's) installs into it with ``--python``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    return folder / "bin" / "python"


def pip_into(python, *arguments, cwd):
    return run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", *arguments, cwd=cwd)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``{"sdist": path, "wheel": path}`` built by ``python -m build`` from a copy of the repository."""
    root = tmp_path_factory.mktemp("packaging")
    source = clone(root / "source")
    tools = root / "build-tools"
    run(sys.executable, "-m", "pip", "install", "-q", "--target", tools, "build", cwd=root)
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(root / "dist"), str(source)],
                            capture_output=True, text=True, cwd=root, timeout=600,
                            env=clean_environment({"PYTHONPATH": str(tools)}))
    assert result.returncode == 0, describe(result)
    (sdist,) = (root / "dist").glob("*.tar.gz")
    (wheel,) = (root / "dist").glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_the_sdist_holds_the_license_readme_and_every_module(built):
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    package = {str(path.relative_to(REPOSITORY)) for path in (REPOSITORY / "acestep_winpatch").rglob("*.py")
               if "__pycache__" not in path.parts}
    assert {"LICENSE", "README.md", "pyproject.toml"} | package <= names, sorted(package - names)


def test_the_wheel_declares_license_authors_version_and_no_torch(built):
    with zipfile.ZipFile(built["wheel"]) as archive:
        info = f"acestep_winpatch-{acestep_winpatch.__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        license_text = archive.read(f"{info}/licenses/LICENSE").decode("utf-8")
        assert "acestep_winpatch/_site/sitecustomize.py" in archive.namelist()
    assert metadata["Version"] == acestep_winpatch.__version__ == PYPROJECT["project"]["version"]
    assert metadata["License-Expression"] == "Apache-2.0" and metadata["License-File"] == "LICENSE"
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert license_text == (REPOSITORY / "LICENSE").read_text(encoding="utf-8")
    assert metadata["Author"] == PYPROJECT["project"]["authors"][0]["name"]
    urls = {entry.split(", ", 1)[0]: entry.split(", ", 1)[1] for entry in metadata.get_all("Project-URL") or []}
    assert urls == PYPROJECT["project"].get("urls", {})
    requirements = [line.split(";")[0] for line in metadata.get_all("Requires-Dist")]
    assert not [name for name in requirements if name.startswith(("torch", "torchaudio"))], requirements


def test_the_wheel_in_a_clean_venv_without_torch_imports_and_doctor_says_torch_is_missing(built, tmp_path):
    """``--no-deps``: the check is the wheel itself, without downloading librosa's stack."""
    python = clean_venv(tmp_path / "venv")
    pip_into(python, built["wheel"], cwd=tmp_path)
    code = ("import sys, acestep_winpatch; print(acestep_winpatch.__file__); "
            f"print([name for name in {HEAVY_MODULES!r} if name in sys.modules])")
    imported = run(python, "-c", code, cwd=tmp_path).stdout.splitlines()
    assert imported[0].startswith(str(tmp_path / "venv")) and imported[1] == "[]", imported
    doctor = subprocess.run([str(python), "-m", "acestep_winpatch", "doctor"], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_environment(), timeout=300)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr, describe(doctor)
    assert f"torch is not importable in this interpreter ({python})" in " ".join(doctor.stdout.split()), \
        describe(doctor)
    console_script = run(tmp_path / "venv" / "bin" / "acestep-winpatch", "--help", cwd=tmp_path)
    assert console_script.stdout.startswith("usage: python -m acestep_winpatch COMMAND")


def editable(tmp_path, *options):
    """A clean venv with an editable install of a clone; returns (python, the folder holding the clone)."""
    holder = tmp_path / "projects"
    source = clone(holder)
    python = clean_venv(tmp_path / "venv")
    pip_into(python, "-e", source, *options, cwd=tmp_path)
    return python, holder


def doctor_json(python, cwd):
    result = subprocess.run([str(python), "-m", "acestep_winpatch", "doctor", "--json"], capture_output=True,
                            text=True, cwd=cwd, env=clean_environment(), timeout=300)
    assert "Traceback" not in result.stderr, describe(result)
    return json.loads(result.stdout)


def test_the_dev_install_is_immune_to_the_clone_folder(tmp_path):
    """scripts/setup_env.sh's install: path-based (``editable_mode=compat``), so the clone's own
    folder, found first from the folder holding it, cannot win over the package inside it."""
    python, holder = editable(tmp_path, "--config-settings", "editable_mode=compat")
    code = "import acestep_winpatch; print(acestep_winpatch.__file__, acestep_winpatch.is_applied())"
    assert run(python, "-c", code, cwd=holder).stdout.split() == [
        str(holder / "acestep_winpatch" / "acestep_winpatch" / "__init__.py"), "True"]
    plugin = doctor_json(python, holder)["environment"]["acestep_winpatch"]
    assert plugin["problem"] is None and plugin["path"] == str(holder / "acestep_winpatch" / "acestep_winpatch")


def test_doctor_names_the_shadowing_a_finder_based_editable_install_suffers(tmp_path):
    """setuptools' default editable install is a meta-path finder, consulted after ``sys.path``:
    from the folder holding the clone, ``import acestep_winpatch`` is the clone's folder as a
    namespace package, while ``acestep_winpatch.doctor`` still comes through the finder. A clone
    today carries the ComfyUI node pack's root ``__init__.py``, which hands the name back to the
    real package; a folder without it (an older clone, a copy of the sources) is the case doctor
    must name, so the clone's root ``__init__.py`` is removed here."""
    python, holder = editable(tmp_path)
    (holder / "acestep_winpatch" / "__init__.py").unlink()
    imported = run(python, "-c", "import acestep_winpatch; print(acestep_winpatch.__file__)", cwd=holder)
    assert imported.stdout.strip() == "None", describe(imported)
    report = doctor_json(python, holder)
    problem = report["environment"]["acestep_winpatch"]["problem"]
    assert problem.startswith(f"acestep_winpatch resolves to a namespace package ({holder / 'acestep_winpatch'}")
    assert report["verdict"]["skipped"] == problem and report["checks"] == {}
    status = subprocess.run([str(python), "-m", "acestep_winpatch", "status"], capture_output=True, text=True,
                            cwd=holder, env=clean_environment(), timeout=300)
    assert status.returncode == 1 and status.stderr.startswith("acestep_winpatch resolves to a namespace package"), \
        describe(status)
