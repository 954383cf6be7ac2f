"""What a process learns about native torchaudio, in real interpreters (issue 10, item 2).

A working FFmpeg must never be switched to the fallback by an error that is not native's own
"cannot load": not by an unrelated exception the caller is handling when it calls torchaudio,
and not by one file failing once native has worked. Each scenario runs in a fresh interpreter,
where nothing has been learnt yet, and reports what ``status()`` recorded.
"""

import json
import os

import pytest

PRELUDE = """
import ctypes, io, json, sys
import torch, torchaudio, acestep_winpatch
from acestep_winpatch import registry
good, corrupt = sys.argv[1], sys.argv[2]

def first_line(call):
    try:
        call()
    except Exception as error:
        return type(error).__name__ + ": " + str(error).splitlines()[0]
    return "returned"

def probe_a_missing_gpu_extension():
    # What an optional extension probe does: the dlopen fails and the caller handles the OSError.
    ctypes.CDLL("libacestep_winpatch_absent_gpu_extension.so")

def report(**facts):
    status = acestep_winpatch.status()
    facts.update(fallbacks=status["fallbacks"], decoders=status.get("decoders"), notes=status["notes"])
    print("RESULT " + json.dumps(facts))
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory, wav):
    """The session's short clip (good) and a WAV header over junk (corrupt)."""
    corrupt = tmp_path_factory.mktemp("verdicts") / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    return wav, str(corrupt)


def scenario(python, files, body):
    result = python(PRELUDE + body, *files)
    return json.loads(result.stdout.split("RESULT ", 1)[1])


@pytest.mark.needs_ffmpeg
def test_a_corrupt_file_read_while_handling_a_failed_dlopen_keeps_ffmpeg_native(python, files):
    out = scenario(python, files, """
try:
    probe_a_missing_gpu_extension()
except OSError:
    corrupt_error = first_line(lambda: torchaudio.load(corrupt))
waveform, rate = torchaudio.load(good)
native, _ = registry.original("audio.load_with_torchcodec")(good)
report(corrupt=corrupt_error, equal=bool(torch.equal(waveform, native)))
""")
    assert out["corrupt"].startswith("RuntimeError: Failed to create AudioDecoder for "), out  # native's own error
    assert out["equal"] and out["fallbacks"] == {} and out["notes"] == {}, out
    assert out["decoders"] == {"audio.load": {"torchaudio": 1}}, out


LOADER_ERROR_READER = """
class LazilyDecompressing(io.RawIOBase):
    '''A reader whose codec library turns out to be missing when it is first read.'''
    def readable(self):
        return True
    def read(self, size=-1):
        raise OSError("libzstd_plugin.so: cannot open shared object file: No such file or directory")
    def seek(self, offset, whence=0):
        return 0
"""


@pytest.mark.needs_ffmpeg
def test_once_native_worked_a_failure_that_says_cannot_load_stays_the_files(python, files):
    """The reader's error reaches torchaudio's message and chain as a loader error; native has
    worked before in this process, so it is that one source's error, raised as native raised it."""
    out = scenario(python, files, LOADER_ERROR_READER + """
torchaudio.load(good)
failure = first_line(lambda: torchaudio.load(LazilyDecompressing()))
after, _ = torchaudio.load(good)
report(failure=failure, shape=list(after.shape))
""")
    assert out["failure"].startswith("RuntimeError: Failed to create AudioDecoder for "), out
    assert "libzstd_plugin.so: cannot open shared object file" in out["failure"], out
    assert out["fallbacks"] == {} and out["shape"] == [2, 4000], out
    assert out["decoders"] == {"audio.load": {"torchaudio": 2}}, out


@pytest.mark.needs_broken_ffmpeg
def test_without_ffmpeg_a_call_made_while_handling_an_error_still_falls_back_for_the_right_reason(python, files):
    out = scenario(python, files, """
try:
    probe_a_missing_gpu_extension()
except OSError:
    waveform, rate = torchaudio.load(good)
report(shape=list(waveform.shape), rate=rate)
""")
    assert out["shape"] == [2, 4000] and out["rate"] == 16000
    reason = out["fallbacks"]["audio.load"]["first_reason"]
    assert reason.startswith("RuntimeError: Could not load libtorchcodec."), reason
    assert "libacestep_winpatch_absent_gpu_extension" not in reason
    assert out["decoders"] == {"audio.load": {"wav": 1}}


@pytest.mark.needs_broken_ffmpeg
@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_keeps_the_verdict(python, files):
    """The verdict describes libraries the child shares with its parent: it goes straight to the fallback."""
    out = scenario(python, files, """
import os
torchaudio.load(good)
native_code = registry.original("audio.load_with_torchcodec").__code__
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(1) if event == "call" and frame.f_code is native_code else None)
    waveform, _ = torchaudio.load(good)
    sys.setprofile(None)
    os.write(write, json.dumps([len(calls), list(waveform.shape)]).encode())
    os._exit(0)
os.waitpid(pid, 0)
report(child=json.loads(os.read(read, 4096)))
""")
    native_attempts, shape = out["child"]
    assert native_attempts == 0 and shape == [2, 4000], out
