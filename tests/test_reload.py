"""Reloads and re-imports: the patches come back, and ``status()`` never says what is not so.

Hot-reload tools and some ComfyUI managers call ``importlib.reload(torchaudio)``, or delete
``torchaudio`` and its submodules from ``sys.modules`` and import them again. Either replaces
``torchaudio.load`` with a new, unpatched function. Each scenario runs in a fresh interpreter;
without FFmpeg a load works only where our patch is really in the call path.
"""

import json

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import clean_environment, describe

LOADED = [[CHANNELS, int(RATE * SECONDS)], RATE]

PRELUDE = """
import importlib, json, sys, types
import torchaudio
import acestep_winpatch
from acestep_winpatch import registry
from acestep_winpatch.proxies import WinpatchProxy
WAV = sys.argv[1]
first_module, first_load = torchaudio, torchaudio.load

def load_with(load):
    try:
        waveform, rate = load(WAV)
        return [list(waveform.shape), rate]
    except Exception as error:
        return f"{type(error).__name__}: {error}".splitlines()[0]

def patch_state(name="audio.load"):
    entry = acestep_winpatch.status()["patches"][name]
    return [entry["state"], entry["detail"]]

def purge_torchaudio():
    for name in [name for name in sys.modules if name == "torchaudio" or name.startswith("torchaudio.")]:
        del sys.modules[name]

def report(**entries):
    print("RESULT " + json.dumps(entries), flush=True)
"""


def scenario(code, wav):
    completed = run_python(PRELUDE + code, wav, env=clean_environment())
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, describe(completed)
    return json.loads(lines[0][len("RESULT "):])


def test_purge_and_reimport_patches_the_new_module(wav):
    result = scenario("""
purge_torchaudio()
during = patch_state()
import torchaudio
second_module = torchaudio
report(
    new_module=second_module is not first_module, during=during,
    after=patch_state(), proxy=type(torchaudio.load) is WinpatchProxy,
    wraps_the_new_function=torchaudio.load.__wrapped__.__globals__ is vars(second_module),
    new_load=load_with(torchaudio.load), old_load=load_with(first_load),
    original_is_the_new_one=registry.original("audio.load") is torchaudio.load.__wrapped__,
    waiting=acestep_winpatch.status()["waiting_for_imports"],
)
acestep_winpatch.unapply()
print("RESTORED", type(torchaudio.load) is types.FunctionType and torchaudio.load is registry.original("audio.load"))
""", wav)
    assert result["new_module"] and result["proxy"] and result["wraps_the_new_function"], result
    assert result["during"][0] == "pending" and "removed from sys.modules" in result["during"][1], result
    assert result["after"] == ["attached", ""], result
    assert result["new_load"] == LOADED and result["old_load"] == LOADED, result
    assert result["original_is_the_new_one"] and result["waiting"] == [], result


def test_reload_patches_the_module_again(wav):
    result = scenario("""
reloaded = importlib.reload(torchaudio)
report(
    same_module=reloaded is first_module, after=patch_state(),
    proxy=type(torchaudio.load) is WinpatchProxy, new_function=torchaudio.load.__wrapped__ is not first_load.__wrapped__,
    new_load=load_with(torchaudio.load), old_load=load_with(first_load),
    every_patch=sorted({entry["state"] for entry in acestep_winpatch.status()["patches"].values()}),
)
""", wav)
    assert result["same_module"] and result["proxy"] and result["new_function"], result
    assert result["after"] == ["attached", ""], result
    assert result["new_load"] == LOADED and result["old_load"] == LOADED, result
    assert result["every_patch"] == ["attached"], result


def test_a_reload_our_hook_cannot_see_is_reported_and_apply_attaches_again(wav, ffmpeg_works):
    """A finder ahead of ours serves torchaudio itself (as some hot-reload tools do): the reload
    never reaches our hook. status() must say so, and a later apply() patches again."""
    result = scenario("""
import importlib.machinery

class ServesTorchaudio:
    def find_spec(self, name, path=None, target=None):
        if name == "torchaudio":
            return importlib.machinery.PathFinder.find_spec(name, path or sys.path, target)
        return None

sys.meta_path.insert(0, ServesTorchaudio())
importlib.reload(torchaudio)
unseen = patch_state()
unseen_load = load_with(torchaudio.load)
acestep_winpatch.apply()
report(unseen=unseen, unseen_load=unseen_load, proxy_after_unseen=type(torchaudio.load).__name__,
       reapplied=patch_state(), reapplied_load=load_with(torchaudio.load))
""", wav)
    assert result["unseen"][0] == "replaced" and "reload" in result["unseen"][1], result
    if not ffmpeg_works:
        assert "Could not load libtorchcodec" in result["unseen_load"], result
    assert result["reapplied"] == ["attached", ""] and result["reapplied_load"] == LOADED, result


def test_status_tells_when_other_code_replaced_the_patched_function(wav):
    result = scenario("""
def their_load(*args, **kwargs):
    return "their own"

torchaudio.load = their_load
replaced = patch_state()
torchaudio.load = first_load
report(replaced=replaced, back=patch_state())
""", wav)
    assert result["replaced"][0] == "replaced", result
    assert "other code" in result["replaced"][1] and "their_load" in result["replaced"][1], result
    assert result["back"] == ["attached", ""], result
