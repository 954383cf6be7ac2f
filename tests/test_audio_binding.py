"""The fast binder gives exactly what ``inspect.Signature.bind`` + ``apply_defaults`` give.

Compared with inspect itself (the original), on torchaudio's real ``load``/``save`` of this
environment, the documented stand-in signatures, and shapes only inspect binds (keyword-only,
positional-only, defaults-free), over hypothesis-chosen calls: too many positionals, unknown
keywords, a parameter given twice, a required one missing.
"""

import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acestep_winpatch import registry
from acestep_winpatch.patches.audio import binding


def _keyword_only(uri, *, frame_offset=0, backend=None):
    """keyword-only parameters: the binder leaves these to inspect."""


def _positional_only(uri, /, sample_rate, channels_first=True):
    """a positional-only parameter: the binder leaves these to inspect."""


def _torchaudios_own():
    """torchaudio's real load and save as the registry keeps them (the unpatched functions)."""
    import torchaudio  # noqa: F401 - applies the patches, which record the originals

    return [registry.original(name) for name in ("audio.load", "audio.save")]


def _signatures():
    return ([inspect.signature(function) for function in _torchaudios_own()]
            + [binder._signature for binder in binding.DOCUMENTED.values()]
            + [inspect.signature(_keyword_only), inspect.signature(_positional_only)])


def by_inspect(signature, args, kwargs):
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return list(bound.arguments.items())


NAMES = st.sampled_from(["uri", "src", "sample_rate", "frame_offset", "num_frames", "normalize", "channels_first",
                         "format", "encoding", "bits_per_sample", "buffer_size", "backend", "compression",
                         "unknown", "path"])
CALLS = st.tuples(st.lists(st.integers(), max_size=12).map(tuple),
                  st.dictionaries(NAMES, st.integers(), max_size=5))


@pytest.mark.parametrize("signature", _signatures(), ids=str)
@settings(max_examples=300, deadline=None)
@given(call=CALLS)
def test_binds_as_inspect(signature, call):
    args, kwargs = call
    bound = binding.Binder(signature).bind(args, dict(kwargs))
    assert (None if bound is None else list(bound.items())) == by_inspect(signature, args, kwargs)


def test_torchaudios_signatures_take_the_fast_path():
    """The per-call path avoids inspect where it can: every torchaudio signature is plain."""
    for function in _torchaudios_own():
        assert binding.explicit_binder(function)._plain is not None
