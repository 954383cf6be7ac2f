"""torchaudio's own warnings point where they point without the plugin (issue 11, item 4).

The reference is the unpatched call: the same script in a fresh interpreter with FFmpeg
visible and ``ACESTEP_WINPATCH=0``. The patched run is this CI run's environment: FFmpeg
visible (the warnings come from native through our proxy) or not (the fallback emits them).
Both must give every warning the same category, text, file, line and module, so that
``warnings.filterwarnings(..., module="torchaudio")`` matches exactly as without the plugin.
"""

import json
import os
import textwrap

import pytest

from conftest import REQUIRE_ENVIRONMENTS, run_python

USER_CODE = '''
import torch, torchaudio

def save_through_torchaudio(path):
    torchaudio.save(path, torch.zeros(2, 1600), 16000, encoding="PCM_16", bits_per_sample=16)

def save_with_every_ignored_argument(path):
    torchaudio.save(path, torch.zeros(2, 1600), 16000, format="wav", backend="soundfile", buffer_size=8192)

def save_with_torchcodec(path):
    torchaudio.save_with_torchcodec(path, torch.zeros(2, 1600), 16000, encoding="PCM_16")

def load_through_torchaudio(path):
    torchaudio.load(path, normalize=False, format="wav")

def load_with_torchcodec(path):
    torchaudio.load_with_torchcodec(path, format="wav", buffer_size=8192, backend="ffmpeg")
'''

SCRIPT = '''
import json, sys, warnings
sys.path.insert(0, sys.argv[1])
import torch, torchaudio
if sys.argv[3] == "patched":
    import acestep_winpatch
import user_code

path = sys.argv[2]

def theirs(caught):  # the plugin's own notice, once per kind of fallback, is tested in test_notices.py
    return [w for w in caught if w.category.__name__ != "FallbackWarning"]

calls = ["save_through_torchaudio", "save_with_every_ignored_argument", "save_with_torchcodec",
         "load_through_torchaudio", "load_with_torchcodec"]
report = {}
for name in calls:
    call = getattr(user_code, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(path)
    seen = [[w.category.__name__, str(w.message), w.filename, w.lineno] for w in theirs(caught)]
    by_module = {}
    for module in ("torchaudio", "user_code", "acestep_winpatch"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore")
            warnings.filterwarnings("always", module=module)
            call(path)
        by_module[module] = sorted(str(w.message) for w in theirs(caught))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # shown once per location, through the module's __warningregistry__
        for _ in range(3):
            call(path)
    report[name] = {"seen": seen, "by_module": by_module, "shown_once_per_location": len(theirs(caught))}
print("REPORT " + json.dumps(report))
'''


def run(tmp_path, mode, env):
    folder = tmp_path / mode
    folder.mkdir()
    (folder / "user_code.py").write_text(textwrap.dedent(USER_CODE))
    result = run_python(SCRIPT, str(folder), str(folder / "song.wav"), mode, env=env)
    report = json.loads(result.stdout.split("REPORT ", 1)[1])
    for entry in report.values():  # the user's module file differs per run folder, nothing else may
        for warning in entry["seen"]:
            warning[2] = warning[2].replace(str(folder), "<user folder>")
    return report


@pytest.fixture(scope="module")
def unpatched_native(tmp_path_factory):
    ffmpeg = os.environ.get("FFMPEG_LD_LIBRARY_PATH")
    if not ffmpeg:
        message = "FFMPEG_LD_LIBRARY_PATH is not set (scripts/setup_env.sh main exports it)"
        if REQUIRE_ENVIRONMENTS:
            pytest.fail(message)
        pytest.skip(message)
    return run(tmp_path_factory.mktemp("unpatched"), "unpatched", {"LD_LIBRARY_PATH": ffmpeg, "ACESTEP_WINPATCH": "0"})


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    return run(tmp_path_factory.mktemp("patched"), "patched", {"ACESTEP_WINPATCH": None})


def test_the_reference_really_warns(unpatched_native):
    """Guard: the unpatched reference saw each call's warnings (torchaudio's line for load/save,
    the user's for the *_with_torchcodec functions)."""
    for name, entry in unpatched_native.items():
        assert entry["seen"], name
        expected = "user_code.py" if name.endswith("with_torchcodec") else os.path.join("torchaudio", "__init__.py")
        assert all(warning[2].endswith(expected) for warning in entry["seen"]), entry


@pytest.mark.parametrize("name", ["save_through_torchaudio", "save_with_every_ignored_argument", "save_with_torchcodec",
                                  "load_through_torchaudio", "load_with_torchcodec"])
def test_warnings_are_attributed_as_without_the_plugin(unpatched_native, patched, name):
    assert patched[name] == unpatched_native[name]
