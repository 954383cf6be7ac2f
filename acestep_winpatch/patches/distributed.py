"""``torch.distributed.init_process_group`` where the requested backend or store cannot exist.

ACE-Step v1's LoRA trainer runs PyTorch Lightning's DDP strategy, which asks for ``nccl`` on
CUDA devices. Windows and macOS builds of torch, and the CPU-only builds, have no NCCL:
``RuntimeError: Distributed package doesn't have NCCL built in``. A request for ``nccl`` where
``torch.distributed.is_nccl_available()`` is False uses ``gloo``, which every build has.

Windows builds without libuv (torch 2.4) fail in the TCP store instead:
``use_libuv was requested but PyTorch was build without libuv support``. That error, raised
by the native call, is answered by one retry through the non-libuv store (``use_libuv=0`` in
the ``env://`` or ``tcp://`` URL, which torch's rendezvous reads). Every other request, a
caller's own ``store`` included, goes to torch untouched. ``inspect`` and ``urllib`` are imported
at the first call: this module is imported in every process the ``.pth`` line reaches.
"""

from .. import events
from ..registry import Patch

NCCL = "nccl"
GLOO = "gloo"
LIBUV_MISSING = "use_libuv was requested but PyTorch was build without libuv support"
STORE_SCHEMES = ("env", "tcp")  # the rendezvous handlers that build a TCPStore


def _init_process_group(wrapped, instance, args, kwargs):
    import inspect

    try:
        call = inspect.signature(wrapped).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return wrapped(*args, **kwargs)  # torch reports the bad call itself
    if _wants_nccl(call.arguments.get("backend")) and not _nccl_available():
        call.arguments["backend"] = GLOO
        events.note("distributed.init_process_group", "nccl requested, this torch has no NCCL: using gloo")
        events.fallback("distributed", "this torch has no NCCL; init_process_group uses gloo instead of nccl")
    try:
        return wrapped(*call.args, **call.kwargs)
    except RuntimeError as error:
        init_method = call.arguments.get("init_method")
        if LIBUV_MISSING not in str(error) or call.arguments.get("store") is not None:
            raise
        retry = without_libuv(init_method)
        if retry is None:
            raise
        call.arguments["init_method"] = retry
        events.note("distributed.init_process_group", "this torch has no libuv: using the non-libuv TCP store")
        events.fallback("distributed", "this torch has no libuv; init_process_group retried with use_libuv=0")
        return wrapped(*call.args, **call.kwargs)


def _wants_nccl(backend):
    return isinstance(backend, str) and backend.strip().lower() == NCCL


def _nccl_available():
    import torch.distributed

    try:
        return bool(torch.distributed.is_nccl_available())
    except Exception:
        return False


def without_libuv(init_method):
    """``init_method`` asking torch's rendezvous for the non-libuv store, or None where it builds none."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(init_method or "env://")
    if parts.scheme not in STORE_SCHEMES:
        return None
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "use_libuv"]
    return urlunsplit(parts._replace(query=urlencode(query + [("use_libuv", "0")])))


PATCHES = [
    Patch("distributed.init_process_group", "torch.distributed", "init_process_group", _init_process_group),
]
