"""The repository as a ComfyUI node pack, cloned into ``custom_nodes/`` beside another pack.

ComfyUI itself cannot run here; ``comfyui_standin.py`` does what its ``main.py`` and
``nodes.py`` do to node packs (its docstring says what). The other pack imports torch and
torchaudio when ComfyUI imports it, compiles a function at import time (as nano-vllm does), and
its node saves and reloads a song and calls that function: in the really broken environment
(no loadable FFmpeg, ``CXX=/nonexistent/cl``, a fresh inductor cache). Each ComfyUI runs in a
throwaway venv that sees this venv's libraries but not the plugin (see ``startup_sandbox``),
unless a test installs it there.
"""

import json
import os
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

import pytest

from startup_sandbox import REPOSITORY, Sandbox, clean_environment, describe

STANDIN = Path(__file__).with_name("comfyui_standin.py")
OTHER_PACK = '''
import json, math, os
import torch
import torchaudio
from torchaudio import load  # bound when ComfyUI imports this pack


@torch.compile
def brighten(x):  # decorated at import time, as nano-vllm's layers are
    return torch.relu(x) * 2 + 1


class SaveAndReload:
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "audio"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def run(self):
        time = torch.arange(48000) / 48000
        song = torch.stack([0.5 * torch.sin(2 * math.pi * 440 * time), 0.25 * torch.sin(2 * math.pi * 660 * time)])
        path = os.path.join(os.environ["AUDIO_PACK_OUTPUT"], "song.wav")
        torchaudio.save(path, song, 48000)
        loaded, rate = load(path)
        report = {"shape": list(loaded.shape), "rate": rate, "max_error": float((loaded - song).abs().max()),
                  "compiled": brighten(torch.tensor([-1.0, 2.0])).tolist()}
        return (json.dumps(report),)


NODE_CLASS_MAPPINGS = {"AudioPackSaveAndReload": SaveAndReload}
'''
OUR_NODE = "AceStepWinPatchStatus"
OTHER_NODE = "AudioPackSaveAndReload"
BROKEN = {"CXX": "/nonexistent/cl", "LD_LIBRARY_PATH": ""}


def clone(custom_nodes, name):
    """What ``git clone`` into custom_nodes/ leaves: the repository's files."""
    return shutil.copytree(REPOSITORY, custom_nodes / name,
                           ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache"))


def comfyui_folder(tmp_path, our_name="acestep_winpatch", other_pack=True):
    """A ComfyUI folder whose custom_nodes/ lists the other pack before ours (os.listdir order)."""
    root = tmp_path / "ComfyUI"
    custom_nodes = root / "custom_nodes"
    custom_nodes.mkdir(parents=True)
    shutil.copy(STANDIN, root / "main.py")
    clone(custom_nodes, our_name)
    if other_pack:
        for attempt in range(40):  # listdir follows the file system's hash order: find a name listed first
            other = custom_nodes / f"audio-pack-{attempt}"
            other.mkdir()
            (other / "__init__.py").write_text(OTHER_PACK, encoding="utf-8")
            if os.listdir(custom_nodes)[0] == other.name:
                break
            shutil.rmtree(other)
        else:
            pytest.fail("no name made os.listdir list the other pack first")
    (root / "output").mkdir()
    return root


@pytest.fixture
def bare(tmp_path):
    """A venv with this venv's libraries and no acestep_winpatch: a ComfyUI before the clone."""
    sandbox = Sandbox(tmp_path / "sandbox")
    shutil.rmtree(sandbox.site_packages / "acestep_winpatch")
    return sandbox


def comfyui(sandbox, root, *options, env=None):
    """Start the stand-in ComfyUI in ``root``; return (its JSON report, the CompletedProcess)."""
    env = {**BROKEN, "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor-cache"),
           "AUDIO_PACK_OUTPUT": str(root / "output"), **(env or {})}
    result = sandbox.run(root / "main.py", root / "custom_nodes", *options, env=env, cwd=root, timeout=400)
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def other_pack_result(report):
    run = report["runs"][OTHER_NODE]
    return json.loads(run["result"][0]) if "result" in run else run


@pytest.mark.needs_broken_ffmpeg
def test_without_the_node_pack_the_other_pack_fails_in_the_broken_environment(tmp_path, bare):
    root = comfyui_folder(tmp_path)
    shutil.rmtree(root / "custom_nodes" / "acestep_winpatch")
    report, _ = comfyui(bare, root, "--run", OTHER_NODE)
    assert other_pack_result(report)["error"].startswith("RuntimeError: Could not load libtorchcodec")
    assert not (root / "output" / "song.wav").exists()


@pytest.mark.needs_broken_ffmpeg
@pytest.mark.parametrize("names", ["current", "legacy"])
def test_cloned_into_custom_nodes_it_fixes_the_other_pack_with_no_other_step(tmp_path, bare, names):
    root = comfyui_folder(tmp_path)
    options = ["--legacy-names"] if names == "legacy" else []
    report, result = comfyui(bare, root, *options, "--run", OTHER_NODE, OUR_NODE)
    assert report["listdir"][-1] == "acestep_winpatch", report["listdir"]  # after the other pack
    assert report["prestartup"] == [["acestep_winpatch", True]]
    assert report["torch_imported_early"] is False
    assert report["packs"]["acestep_winpatch"] == {
        "loaded": True, "nodes": [OUR_NODE], "display_names": {OUR_NODE: "ACE-Step WinPatch status"}}
    song = other_pack_result(report)
    assert song["shape"] == [2, 48000] and song["rate"] == 48000 and song["max_error"] < 1e-4, song
    assert song["compiled"] == [1.0, 5.0]
    # The real package answers to its name (older ComfyUI registered this folder under it), once.
    inner = root / "custom_nodes" / "acestep_winpatch" / "acestep_winpatch"
    assert report["plugin"] == str(inner / "__init__.py")
    assert report["registry_copies"] == ["acestep_winpatch.registry"]
    status = report["status"]
    assert status["activated_by"] == ["comfyui"]
    assert set(status["fallbacks"]) >= {"audio.save", "audio.load", "compile"}
    text = report["runs"][OUR_NODE]["result"][0]
    assert text.startswith("acestep_winpatch: applied (activated by comfyui)")
    assert "fallback audio.load x1: " in text and "Could not load libtorchcodec" in text
    assert "[acestep_winpatch]" not in result.stderr


@pytest.mark.needs_broken_ffmpeg
def test_switched_off_it_does_nothing(tmp_path, bare):
    root = comfyui_folder(tmp_path)
    report, result = comfyui(bare, root, "--run", OTHER_NODE, env={"ACESTEP_WINPATCH": "0"})
    assert report["packs"]["acestep_winpatch"] == {"loaded": True, "nodes": [], "display_names": {}}
    assert report["plugin"] is None and report["registry_copies"] == []
    assert other_pack_result(report)["error"].startswith("RuntimeError: Could not load libtorchcodec")
    assert "[acestep_winpatch]" not in result.stderr


def test_a_missing_dependency_is_one_clear_message_and_never_an_error(tmp_path):
    """A venv where wrapt is really missing: its libraries, less wrapt, as links in one folder."""
    sandbox = Sandbox(tmp_path / "sandbox")
    shutil.rmtree(sandbox.site_packages / "acestep_winpatch")
    libraries = tmp_path / "libraries-without-wrapt"
    libraries.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("wrapt", "acestep_winpatch", "__editable__", "_winpatch")):
            (libraries / entry.name).symlink_to(entry)
    sandbox.add_pth("aab_dependencies", str(libraries))
    root = comfyui_folder(tmp_path, other_pack=False)
    report, result = comfyui(sandbox, root, "--run", OUR_NODE)
    assert report["packs"]["acestep_winpatch"] == {"loaded": True, "nodes": [], "display_names": {}}
    assert report["prestartup"] == [["acestep_winpatch", True]]
    assert report["plugin"] is None
    messages = [line for line in result.stderr.splitlines() if "acestep_winpatch" in line and "Import times" not in line]
    requirements = root / "custom_nodes" / "acestep_winpatch" / "requirements.txt"
    assert messages == [f"[acestep_winpatch] not activated: missing wrapt; install them with python -m pip "
                        f"install -r {requirements}"], result.stderr


@pytest.mark.needs_broken_ffmpeg
def test_beside_a_pip_installed_plugin_with_its_pth_it_activates_once(tmp_path):
    sandbox = Sandbox(tmp_path / "sandbox")  # the plugin installed in site-packages...
    subprocess.run([str(sandbox.python), "-m", "acestep_winpatch", "install-pth"], check=True,
                   capture_output=True, env=clean_environment())  # ...and activated by its .pth
    root = comfyui_folder(tmp_path)
    report, result = comfyui(sandbox, root, "--legacy-names", "--run", OTHER_NODE, OUR_NODE)
    assert report["plugin"] == str(sandbox.site_packages / "acestep_winpatch" / "__init__.py")
    assert report["registry_copies"] == ["acestep_winpatch.registry"]
    assert report["status"]["activated_by"] == ["pth", "comfyui"]
    assert other_pack_result(report)["max_error"] < 1e-4
    assert report["status"]["fallbacks"]["audio.load"]["count"] == 1
    assert "[acestep_winpatch]" not in result.stderr


@pytest.mark.needs_broken_ffmpeg
def test_where_prestartup_scripts_are_skipped_the_node_pack_activates_itself(tmp_path, bare):
    root = comfyui_folder(tmp_path, other_pack=False)
    report, _ = comfyui(bare, root, "--skip-prestartup", "--run", OUR_NODE)
    assert report["prestartup"] == []
    assert report["status"]["activated_by"] == ["comfyui"]
    assert report["packs"]["acestep_winpatch"]["nodes"] == [OUR_NODE]


PLAIN_IMPORT = """
import json, sys, torch, torchaudio
import acestep_winpatch
torchaudio.save("tone.wav", torch.zeros(1, 800), 8000)
print(json.dumps({"file": acestep_winpatch.__file__, "loaded": list(torchaudio.load("tone.wav")[0].shape),
                  "activated_by": acestep_winpatch.status()["activated_by"],
                  "is_module": sys.modules["acestep_winpatch"] is acestep_winpatch}))
"""


@pytest.mark.needs_broken_ffmpeg
def test_imported_as_a_plain_package_from_custom_nodes_it_hands_over_to_the_real_package(tmp_path, bare):
    """From custom_nodes/, ``import acestep_winpatch`` finds the clone's root __init__.py first; it runs
    as the node pack (so the activation is ComfyUI's: nothing tells the two imports apart) and the
    name ends up on the real package."""
    root = comfyui_folder(tmp_path, other_pack=False)
    custom_nodes = root / "custom_nodes"
    result = bare.run("-c", PLAIN_IMPORT, cwd=custom_nodes, env=BROKEN)
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"file": str(custom_nodes / "acestep_winpatch" / "acestep_winpatch" / "__init__.py"),
                      "loaded": [1, 800], "activated_by": ["comfyui"], "is_module": True}


def test_requirements_are_the_runtime_dependencies_and_never_torch():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    lines = (REPOSITORY / "requirements.txt").read_text(encoding="utf-8").split()
    assert lines == project["project"]["dependencies"]
    assert not any(line.startswith(("torch", "torchaudio")) for line in lines)
    assert {"PublisherId", "DisplayName", "Icon"} <= set(project["tool"]["comfy"])
    assert project["project"]["urls"]["Repository"].startswith("https://")


def test_the_prestartup_script_never_imports_torch(tmp_path, bare):
    root = comfyui_folder(tmp_path, other_pack=False)
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in ('torch', 'torchaudio', 'numpy', 'wrapt') if m in sys.modules))")
    result = bare.run("-c", code, root / "custom_nodes" / "acestep_winpatch" / "prestartup_script.py")
    assert result.returncode == 0, describe(result)
    assert result.stdout.strip() == "[]"


def test_tests_is_no_package_so_pytest_never_imports_the_root_as_acestep_winpatch():
    """With tests/__init__.py, pytest's default import mode would walk up to the repository root,
    which the root __init__.py makes a package named like the clone's folder, and import it."""
    assert not (REPOSITORY / "tests" / "__init__.py").exists()
