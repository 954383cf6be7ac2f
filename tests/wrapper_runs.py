"""A snippet for subprocess scripts: counts how often our ``torchaudio.load`` wrapper really runs.

A profiler watches the wrapper's own code object, so nothing is mocked. The audio patches share
one wrapper function, so calls whose ``wrapped`` (the wrapper's first argument) is another
patch's original (``torchaudio.load`` calling the patched ``load_with_torchcodec``) do not count.
The script must have imported acestep_winpatch; the count is ``our_wrapper_runs[0]``.
"""

COUNT_OUR_LOAD_WRAPPER = """
import sys
from acestep_winpatch import registry
_records = {record.patch.name: record for record in registry.records()}
_load_wrapper_code = _records["audio.load"].patch.wrapper.__code__
_other_originals = [registry.original(name) for name in _records if name != "audio.load"]
our_wrapper_runs = [0]
def _count(frame, event, arg):
    if event == "call" and frame.f_code is _load_wrapper_code:
        wrapped = frame.f_locals[frame.f_code.co_varnames[0]]
        if not any(wrapped is other for other in _other_originals):
            our_wrapper_runs[0] += 1
sys.setprofile(_count)
"""
