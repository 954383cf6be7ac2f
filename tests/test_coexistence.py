"""Another library wraps torchaudio.load too, before or after us, with wrapt or with
functools.wraps: both wrappers run, and unapply() removes only ours.

Whether our wrapper ran is observed with a profiler on its code (the audio patches share
one wrapper function; calls whose ``wrapped`` is another patch's original are torchaudio's
own nested calls and do not count).
"""

import json

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from conftest import run_python
from startup_sandbox import clean_environment, describe
from wrapper_runs import COUNT_OUR_LOAD_WRAPPER


FOREIGN = {
    "wrapt": """
import wrapt
foreign_runs = [0]
def foreign_wrapper(wrapped, instance, args, kwargs):
    foreign_runs[0] += 1
    return wrapped(*args, **kwargs)
def wrap_foreign():
    wrapt.wrap_function_wrapper("torchaudio", "load", foreign_wrapper)
""",
    "functools": """
import functools
foreign_runs = [0]
def wrap_foreign():
    inner = torchaudio.load
    @functools.wraps(inner)
    def foreign_load(*args, **kwargs):
        foreign_runs[0] += 1
        return inner(*args, **kwargs)
    torchaudio.load = foreign_load
""",
}

SCENARIO = """
import json, sys, types
import torchaudio
original = torchaudio.load
{foreign}
if "{order}" == "foreign_first":
    wrap_foreign()
    theirs = torchaudio.load
import acestep_winpatch
from acestep_winpatch import registry
if "{order}" == "foreign_last":
    wrap_foreign()
    theirs = torchaudio.load

{count_our_load_wrapper}

def call():
    try:
        waveform, rate = torchaudio.load(sys.argv[1])
        return [list(waveform.shape), rate]
    except Exception as error:
        return f"{{type(error).__name__}}: {{error}}".splitlines()[0]

call()
report = {{"applied": {{"result": call(), "ours": our_wrapper_runs[0], "theirs": foreign_runs[0],
                        "state": acestep_winpatch.status()["patches"]["audio.load"]}}}}
acestep_winpatch.unapply()
report["unapplied"] = {{"result": call(), "ours": our_wrapper_runs[0], "theirs": foreign_runs[0],
                       "state": acestep_winpatch.status()["patches"]["audio.load"],
                       "attribute_is_theirs": torchaudio.load is theirs,
                       "theirs_wraps_original": getattr(theirs, "__wrapped__", None) is original}}
acestep_winpatch.apply()
report["reapplied"] = {{"result": call(), "ours": our_wrapper_runs[0], "theirs": foreign_runs[0],
                       "state": acestep_winpatch.status()["patches"]["audio.load"]}}
print("REPORT " + json.dumps(report))
"""


def scenario(kind, order, wav):
    code = SCENARIO.format(foreign=FOREIGN[kind], order=order, count_our_load_wrapper=COUNT_OUR_LOAD_WRAPPER)
    result = run_python(code, wav, env=clean_environment())
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert len(lines) == 1, describe(result)
    return json.loads(lines[0][len("REPORT "):])


LOADED = [[CHANNELS, int(RATE * SECONDS)], RATE]


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_foreign_wrapper_before_us(kind, wav):
    """Theirs is underneath ours: it runs on every call (also once our fallback has learnt that
    native is unavailable), and unapply() puts their wrapper back, exactly."""
    report = scenario(kind, "foreign_first", wav)
    applied, unapplied, reapplied = report["applied"], report["unapplied"], report["reapplied"]
    assert applied == {"result": LOADED, "ours": 2, "theirs": 2, "state": applied["state"]}, report
    assert applied["state"]["state"] == "attached", report
    assert unapplied["attribute_is_theirs"] and unapplied["theirs_wraps_original"], report
    assert unapplied["state"]["state"] == "not applied" and unapplied["ours"] == 2 and unapplied["theirs"] == 3
    assert reapplied["result"] == LOADED and reapplied["ours"] == 3 and reapplied["theirs"] == 4, report


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_foreign_wrapper_after_us(kind, wav, ffmpeg_works):
    """Theirs is on top of ours: unapply() leaves it (and says so), our proxy inside passes
    calls straight through, and apply() turns that same proxy back on."""
    report = scenario(kind, "foreign_last", wav)
    applied, unapplied, reapplied = report["applied"], report["unapplied"], report["reapplied"]
    assert applied["result"] == LOADED and applied["ours"] == 2 and applied["theirs"] == 2, report
    assert unapplied["attribute_is_theirs"], report
    assert unapplied["state"]["state"] == "left in place", report
    assert unapplied["ours"] == 2 and unapplied["theirs"] == 3, report
    if ffmpeg_works:
        assert unapplied["result"] == LOADED, report
    else:
        assert "Could not load libtorchcodec" in unapplied["result"], report
    assert reapplied["state"] == {"target": "torchaudio.load", "state": "attached",
                                  "detail": "beneath a wrapper added by other code"}, report
    assert reapplied["result"] == LOADED and reapplied["ours"] == 3 and reapplied["theirs"] == 4, report
