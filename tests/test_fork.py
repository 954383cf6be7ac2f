"""``os.fork`` while a lock of ours is held: the child never hangs, and never trips over a lock.

Fork-based DataLoader workers and ``torch.multiprocessing`` fork while other threads may be in
the middle of a patched call. A lock that another thread held at that moment stays held in the
child, where that thread does not exist; the child's first ``with lock:`` would wait for ever.
A lock that the forking thread itself held must stay held in the child instead, which goes on
to release it on its way out.

Each scenario runs in a fresh interpreter that really forks. A child that hangs is ended by a
watchdog (``signal.alarm``) and reported as killed by signal 14. Each scenario also proves that
the lock it is about was really held at the moment of the fork (``held_at_fork``), so none of
them can pass without testing anything. The slow first calls are real calls held open by a
file object or a wrapper that waits for the test to release it.

What no plugin can change: a child forked while another thread is *importing* a module inherits
that import's module lock held (CPython does not reset importlib's per-module locks at fork), so
importing the same module in the child hangs with or without the plugin; and soundfile holds
its own lock (``SoundFile._sf_error_lock``) around every libsndfile open, so a child forked while
another thread is opening a file through soundfile (torchaudio 2.8's soundfile backend, or our
fallback) hangs in soundfile. Hence the scenario without FFmpeg holds its first native call in a
wrapper beneath ours rather than in torchcodec's import or in soundfile.
"""

import json
import os
import textwrap

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import clean_environment, describe

FRAMES = int(RATE * SECONDS)
CHILD_ENDED_WELL = "exit 0"

# fork_child(work): fork; the child runs work() under a watchdog and exits; returns how it ended.
FORK = """
import json, os, signal, sys, threading, traceback
PARENT = os.getpid()
WATCHDOG_SECONDS = 60

def fork_child(work):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(WATCHDOG_SECONDS)
            work()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return ended(os.waitpid(pid, 0)[1])

def ended(status):
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"

def is_held(lock):
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True

def report(**entries):
    print("RESULT " + json.dumps(entries), flush=True)
"""

# A file object whose first read in the parent waits until the test releases it: the native
# decoder is then inside its first call, holding the lock that makes first native attempts
# take turns.
SLOW_FILE = """
inside, released = threading.Event(), threading.Event()

class SlowFile:
    def __init__(self, path):
        self.file = open(path, "rb")
    def read(self, size=-1):
        if os.getpid() == PARENT and not released.is_set():
            inside.set()
            released.wait()
        return self.file.read(size)
    def seek(self, offset, whence=0):
        return self.file.seek(offset, whence)
    def tell(self):
        return self.file.tell()
"""

FIRST_LOAD_IN_A_THREAD = """
from acestep_winpatch.patches.audio.policy import VERDICTS
thread_result = {}

def first_load():
    try:
        waveform, rate = torchaudio.load(SlowFile(WAV))
        thread_result["loaded"] = [list(waveform.shape), rate]
    except Exception as error:
        thread_result["error"] = f"{type(error).__name__}: {error}"

def child_loads():
    waveform, rate = torchaudio.load(WAV)
    print("CHILD LOADED", list(waveform.shape), rate, flush=True)

thread = threading.Thread(target=first_load)
thread.start()
entered = inside.wait(120)
held = is_held(VERDICTS._lock)
child = fork_child(child_loads)
released.set()
thread.join()
report(entered=entered, held_at_fork=held, child=child, thread=thread_result)
"""


def result_of(completed):
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert completed.returncode == 0 and len(lines) == 1, describe(completed)
    return json.loads(lines[0][len("RESULT "):])


def assert_first_load_survived_the_fork(result, completed):
    assert result["entered"] and result["held_at_fork"], result  # the scenario really held the lock
    assert result["child"] == CHILD_ENDED_WELL, describe(completed)
    assert f"CHILD LOADED [{CHANNELS}, {FRAMES}] {RATE}" in completed.stdout, describe(completed)
    assert result["thread"] == {"loaded": [[CHANNELS, FRAMES], RATE]}, result


@pytest.mark.needs_ffmpeg
def test_fork_during_a_first_native_load_reading_a_slow_file(wav):
    """torchcodec is reading a file object in another thread, its first native call."""
    code = FORK + SLOW_FILE + f"import torch, torchaudio, acestep_winpatch\nWAV = {wav!r}\n" + FIRST_LOAD_IN_A_THREAD
    completed = run_python(code, env=clean_environment())
    assert_first_load_survived_the_fork(result_of(completed), completed)


def test_fork_during_a_first_load_held_open_by_a_wrapper_beneath_ours(wav):
    """Any environment: another library's wrapper beneath ours is still in its first call
    (without FFmpeg, torchaudio's own function then fails and our fallback loads the file)."""
    code = FORK + SLOW_FILE + textwrap.dedent(f"""
        import torch, torchaudio
        WAV = {wav!r}
        torchaudio_load = torchaudio.load

        def checks_the_share_first(uri, *args, **kwargs):
            if os.getpid() == PARENT and not released.is_set():
                inside.set()
                released.wait()
            return torchaudio_load(uri.file.name if isinstance(uri, SlowFile) else uri, *args, **kwargs)

        torchaudio.load = checks_the_share_first
        import acestep_winpatch
    """) + FIRST_LOAD_IN_A_THREAD
    completed = run_python(code, env=clean_environment())
    assert_first_load_survived_the_fork(result_of(completed), completed)


def test_fork_during_a_first_compiled_call_in_another_thread():
    """The compile guard serialises first calls; another thread is inside one when the process forks."""
    code = FORK + """
import torch, acestep_winpatch
from acestep_winpatch.compile_guard import guard_of
inside, released = threading.Event(), threading.Event()

def slow_first_run(graph, example_inputs):
    def run(*args):
        if os.getpid() == PARENT and not released.is_set():
            inside.set()
            released.wait()
        return graph.forward(*args)
    return run

def double_plus_one(x):
    return x * 2 + 1

compiled = torch.compile(double_plus_one, backend=slow_first_run)
thread_result = {}

def first_call():
    thread_result["value"] = compiled(torch.ones(3)).tolist()

def child_calls():
    print("CHILD VALUE", compiled(torch.full((3,), 2.0)).tolist(), flush=True)

thread = threading.Thread(target=first_call)
thread.start()
entered = inside.wait(120)
held = is_held(guard_of(compiled)._lock)
child = fork_child(child_calls)
released.set()
thread.join()
report(entered=entered, held_at_fork=held, child=child, thread=thread_result)
"""
    completed = run_python(code, env=clean_environment())
    result = result_of(completed)
    assert result["entered"] and result["held_at_fork"], result
    assert result["child"] == CHILD_ENDED_WELL, describe(completed)
    assert "CHILD VALUE [5.0, 5.0, 5.0]" in completed.stdout, describe(completed)
    assert result["thread"] == {"value": [3.0, 3.0, 3.0]}, result


def test_fork_while_another_thread_holds_every_lock_of_the_package(wav, tmp_path):
    """Every lock the package has made (registry, import hook, configuration, log, events, audio,
    compile) held by one thread at the fork; the child imports torch and torchaudio, applies,
    unapplies, loads, saves, compiles and synchronises."""
    code = FORK + f"""
import acestep_winpatch
from acestep_winpatch import forksafe
from acestep_winpatch.patches.audio import policy  # made on first use: its verdicts' lock
holding, released = threading.Event(), threading.Event()
locks = list(forksafe._locks)

def hold_every_lock():
    for lock in locks:
        lock.acquire()
    holding.set()
    released.wait()
    for lock in reversed(locks):
        lock.release()

def child_works():
    acestep_winpatch.apply(); acestep_winpatch.unapply(); acestep_winpatch.apply()
    import torch, torchaudio
    waveform, rate = torchaudio.load({wav!r})
    torchaudio.save(os.path.join({str(tmp_path)!r}, "child.wav"), waveform, rate)
    doubled = torch.compile(lambda x: x * 2, backend="eager")(torch.ones(2))
    torch.cuda.synchronize()
    states = sorted({{patch["state"] for patch in acestep_winpatch.status()["patches"].values()}})
    print("CHILD DONE", list(waveform.shape), doubled.tolist(), states, flush=True)

thread = threading.Thread(target=hold_every_lock)
thread.start()
holding.wait(120)
held = all(is_held(lock) for lock in locks)
child = fork_child(child_works)
released.set()
thread.join()
report(held_at_fork=held, locks=len(locks), child=child)
"""
    completed = run_python(code, env=clean_environment())
    result = result_of(completed)
    assert result["held_at_fork"] and result["locks"] >= 7, result
    assert result["child"] == CHILD_ENDED_WELL, describe(completed)
    assert f"CHILD DONE [{CHANNELS}, {FRAMES}] [2.0, 2.0] ['attached']" in completed.stdout, describe(completed)
    assert os.path.getsize(tmp_path / "child.wav") > 44


# The forking thread itself holds our lock: the child goes on and releases it on the way out.
FORKS_INSIDE = FORK + """
forked = {}

def fork_here():
    pid = os.fork()
    if pid == 0:
        signal.alarm(WATCHDOG_SECONDS)
        forked["in_child"] = True
    else:
        forked["pid"] = pid

def finish(outcome):
    if forked.get("in_child"):
        print("CHILD " + outcome, flush=True)
        sys.stdout.flush()
        os._exit(0 if outcome.startswith("OK") else 1)
    report(child=ended(os.waitpid(forked["pid"], 0)[1]), parent=outcome)

def attempt(call):
    try:
        return "OK " + json.dumps(call())
    except Exception as error:
        return f"FAILED {type(error).__name__}: {error}"
"""


def test_fork_inside_a_first_compiled_call_keeps_the_guard_lock_for_the_child():
    """A backend that forks while compiling: both processes finish the first call normally."""
    code = FORKS_INSIDE + """
import torch, acestep_winpatch

def forking_backend(graph, example_inputs):
    fork_here()
    return graph.forward

compiled = torch.compile(lambda x: x + 1, backend=forking_backend)
finish(attempt(lambda: [compiled(torch.ones(2)).tolist(), compiled(torch.ones(2)).tolist()]))
"""
    completed = run_python(code, env=clean_environment())
    result = result_of(completed)
    assert result == {"child": CHILD_ENDED_WELL, "parent": "OK [[2.0, 2.0], [2.0, 2.0]]"}, describe(completed)
    assert "CHILD OK [[2.0, 2.0], [2.0, 2.0]]" in completed.stdout, describe(completed)


def test_fork_inside_a_first_native_load_keeps_the_audio_lock_for_the_child(wav):
    """A wrapper beneath ours forks inside the first native call (a plain lock, not re-entrant)."""
    code = FORKS_INSIDE + f"""
import torch, torchaudio
torchaudio_load = torchaudio.load

def forks_first(*args, **kwargs):
    if not forked:
        fork_here()
    return torchaudio_load(*args, **kwargs)

torchaudio.load = forks_first
import acestep_winpatch
finish(attempt(lambda: [list(torchaudio.load({wav!r})[0].shape) for _ in range(2)]))
"""
    completed = run_python(code, env=clean_environment())
    result = result_of(completed)
    loaded = f"OK [[{CHANNELS}, {FRAMES}], [{CHANNELS}, {FRAMES}]]"
    assert result == {"child": CHILD_ENDED_WELL, "parent": loaded}, describe(completed)
    assert f"CHILD {loaded}" in completed.stdout, describe(completed)
