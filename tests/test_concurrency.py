"""Threads: concurrent loads and saves, apply()/unapply() racing with calls, and 1000
apply/unapply cycles. Each scenario runs in a fresh interpreter, so "one warning per
fallback kind per process" is measured on a process that starts clean.

In the environment without FFmpeg every call goes through the fallback; with FFmpeg the
same threads run on native torchaudio and no fallback may fire.
"""

import json
import textwrap

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import clean_environment, describe

THREADS, ROUNDS = 8, 4

# Collects the acestep_winpatch warnings of the subprocess, and defines the work one thread does:
# load the shared file, save its own signal, read that back, and compare both with what is expected.
PRELUDE = """
import json, logging, os, sys, threading
import numpy as np
import soundfile

class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())

collected = Collect()
logging.getLogger("acestep_winpatch").addHandler(collected)

import torch, torchaudio
import acestep_winpatch

SOURCE, FOLDER = sys.argv[1], sys.argv[2]
expected = torch.from_numpy(soundfile.read(SOURCE, dtype="float32", always_2d=True)[0].T.copy())

def load(thread, round):
    waveform, rate = torchaudio.load(SOURCE)
    assert rate == %(rate)d and waveform.shape == expected.shape, (rate, waveform.shape)
    assert torch.allclose(waveform, expected, atol=1e-4), "load returned other samples"

def save(thread, round):
    signal = torch.full((2, 800), (thread %% 8 + 1) / 10.0) * torch.linspace(-1, 1, 800)
    path = os.path.join(FOLDER, f"thread {thread} round {round}.wav")
    torchaudio.save(path, signal, %(rate)d)
    written, written_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert written_rate == %(rate)d and np.allclose(written.T, signal.numpy(), atol=1e-4), path

def load_and_save(thread, round):
    # Even threads load first, odd ones save first: the first calls of both race each other.
    for step in ((load, save) if thread %% 2 == 0 else (save, load)):
        step(thread, round)
""" % {"rate": RATE}


def last_json(result, tag):
    lines = [line for line in result.stdout.splitlines() if line.startswith(tag + " ")]
    assert len(lines) == 1, describe(result)
    return json.loads(lines[0][len(tag) + 1:])


def test_eight_threads_load_and_save_at_once(wav, tmp_path, ffmpeg_works):
    code = PRELUDE + f"""
start = threading.Barrier({THREADS})
failures = []

def work(thread):
    start.wait()
    for round in range({ROUNDS}):
        try:
            load_and_save(thread, round)
        except BaseException as error:
            failures.append(f"thread {{thread}} round {{round}}: {{type(error).__name__}}: {{error}}")

threads = [threading.Thread(target=work, args=(n,)) for n in range({THREADS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("RESULT " + json.dumps({{"failures": failures, "warnings": collected.messages,
                              "fallbacks": acestep_winpatch.status()["fallbacks"]}}))
"""
    result = last_json(run_python(code, wav, str(tmp_path), env=clean_environment(), timeout=240), "RESULT")
    assert result["failures"] == [], result["failures"]
    calls = THREADS * ROUNDS
    fallback_warnings = [message for message in result["warnings"] if " fell back: " in message]
    kinds = sorted(message.split(" fell back: ")[0] for message in fallback_warnings)
    print(f"\n{calls} loads and {calls} saves on {THREADS} threads; fallback warnings: {kinds}")
    if ffmpeg_works:
        assert result["fallbacks"] == {} and fallback_warnings == [], result
        return
    assert kinds == ["audio.load", "audio.save"], result["warnings"]
    assert result["fallbacks"]["audio.load"]["count"] == calls, result["fallbacks"]
    assert result["fallbacks"]["audio.save"]["count"] == calls, result["fallbacks"]


def test_apply_and_unapply_racing_with_calls(wav, tmp_path, ffmpeg_works):
    """Calls made while other threads toggle the patches either return the right result, or, when
    they reached torchaudio's own unpatched function, raise whatever it raises (without FFmpeg:
    its RuntimeError, or ImportError/_DeadlockError from its own racing lazy import of
    torchcodec). No call that went through our wrapper may fail."""
    code = PRELUDE + """
import time, traceback
from acestep_winpatch import importhook, registry
from acestep_winpatch.proxies import WinpatchProxy
originals = {name: registry.original(name) for name in ("audio.load", "audio.save")}
stop = threading.Event()
outcomes = {"ok": 0}
PACKAGE = os.path.dirname(acestep_winpatch.__file__)
unexpected = []
lock = threading.Lock()

def call(thread):
    round = 0
    while not stop.is_set():
        try:
            load_and_save(thread, round % 3)
            outcome = "ok"
        except BaseException as error:
            frames = traceback.extract_tb(error.__traceback__)
            if any(frame.filename.startswith(PACKAGE) for frame in frames):
                unexpected.append(f"{type(error).__name__}: {error}")
                outcome = "failed_through_us"
            else:
                outcome = "native_error:" + type(error).__name__
        with lock:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        round += 1

def toggle():
    for _ in range(100):
        acestep_winpatch.unapply()
        time.sleep(0.0005)
        acestep_winpatch.apply()
        time.sleep(0.0005)

load_and_save(0, 0)  # first use (torchcodec's lazy import) on one thread: the race is about toggling

callers = [threading.Thread(target=call, args=(n,)) for n in range(4)]
togglers = [threading.Thread(target=toggle) for _ in range(2)]
for thread in callers + togglers:
    thread.start()
for thread in togglers:
    thread.join()
stop.set()
for thread in callers:
    thread.join()

acestep_winpatch.apply()
states = {name: patch["state"] for name, patch in acestep_winpatch.status()["patches"].items()}
layered = type(torchaudio.load) is WinpatchProxy and torchaudio.load.__wrapped__ is originals["audio.load"]
load_and_save(99, 0)
acestep_winpatch.unapply()
restored = all(getattr(torchaudio, name.split(".")[1]) is original for name, original in originals.items())
print("RESULT " + json.dumps({
    "outcomes": outcomes, "unexpected": unexpected[:5], "states_after_apply": states,
    "one_layer": layered, "restored": restored, "pending": importhook.pending(),
    "states_after_unapply": sorted({p["state"] for p in acestep_winpatch.status()["patches"].values()}),
}))
"""
    result = last_json(run_python(code, wav, str(tmp_path), env=clean_environment(), timeout=300), "RESULT")
    print(f"\nracing calls: {result['outcomes']}")
    assert result["unexpected"] == [], result
    assert result["outcomes"]["ok"] > 0, result
    if ffmpeg_works:
        assert set(result["outcomes"]) == {"ok"}, result
    assert result["states_after_apply"]["audio.load"] == "attached", result
    assert result["states_after_apply"]["audio.save"] == "attached", result
    assert result["one_layer"] and result["restored"] and result["pending"] == [], result
    assert result["states_after_unapply"] == ["not applied"], result


CYCLES = """
from acestep_winpatch import importhook, registry
from acestep_winpatch.proxies import WinpatchProxy
import types

def hook_finders():
    return sum(type(finder).__name__ == "_HookFinder" for finder in sys.meta_path)

def check_cycles(torchaudio_loaded):
    for cycle in range(1000):
        acestep_winpatch.unapply()
        assert importhook.pending() == [], (cycle, importhook.pending())
        assert hook_finders() <= 1, (cycle, hook_finders())
        if torchaudio_loaded:
            assert torchaudio.load is original_load, cycle
            assert torchaudio.save is original_save, cycle
            assert not hasattr(torchaudio, "info") or torchaudio.info is original_info, cycle
        acestep_winpatch.apply()
        if torchaudio_loaded:
            assert type(torchaudio.load) is WinpatchProxy and torchaudio.load.__wrapped__ is original_load, cycle
        else:
            assert "torchaudio" in importhook.pending(), cycle
"""


def test_a_thousand_apply_unapply_cycles_with_torchaudio_loaded():
    code = textwrap.dedent("""
        import sys
        import torchaudio
        original_load, original_save = torchaudio.load, torchaudio.save
        original_info = getattr(torchaudio, "info", None)
        import acestep_winpatch
    """) + CYCLES + """
check_cycles(torchaudio_loaded=True)
acestep_winpatch.unapply()
print("OK", hook_finders())
"""
    result = run_python(code, env=clean_environment())
    assert "OK" in result.stdout, describe(result)


def test_a_thousand_apply_unapply_cycles_before_torchaudio_is_imported(wav):
    code = "import sys\nimport acestep_winpatch\n" + CYCLES + f"""
check_cycles(torchaudio_loaded=False)
assert hook_finders() == 1
import torchaudio
proxy = torchaudio.load
assert type(proxy) is WinpatchProxy and type(proxy.__wrapped__) is types.FunctionType, "wrapped more than once"
assert importhook.pending() == []
assert list(torchaudio.load({wav!r})[0].shape) == [{CHANNELS}, {int(RATE * SECONDS)}]
acestep_winpatch.unapply()
assert type(torchaudio.load) is types.FunctionType
print("OK")
"""
    result = run_python(code, env=clean_environment())
    assert "OK" in result.stdout, describe(result)
