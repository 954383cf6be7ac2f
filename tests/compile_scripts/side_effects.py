"""One call of each probe with side effects, printed as one JSON line: what the caller can see
after exactly one call. Run compiled (``compiled``) or as plain eager code (``eager``, the
reference, with ``ACESTEP_WINPATCH=0``, which leaves the imported plugin inert).

Arguments: ``compiled``/``eager``, the backend (``inductor`` or ``raising``), then any of
``break`` (a graph break inside each probe: two graphs per call), ``fullgraph`` and the probes
to run (default: all three). Each probe compiles its own object.

* counter: a module counting its calls in a Python attribute and, in place, in a buffer;
* sampler: nano-vllm's Sampler, which divides the caller's logits in place;
* rng: ``torch.manual_seed``, then ``multinomial`` and ``rand`` inside the call, and the
  caller's next draw after it.
"""

import json
import sys

import torch

import acestep_winpatch  # applies, unless ACESTEP_WINPATCH=0

MODE, BACKEND, FLAGS = sys.argv[1], sys.argv[2], set(sys.argv[3:])
PROBES = [probe for probe in ("counter", "sampler", "rng") if probe in FLAGS] or ["counter", "sampler", "rng"]


def raising(gm, example_inputs):
    """A compiler that fails at compile time: stands for any backend's bug."""
    raise RuntimeError("this backend always fails")


def maybe_break():
    if "break" in FLAGS:
        torch._dynamo.graph_break()  # a no-op when not compiling


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        self.seen.add_(1)
        y = torch.relu(x) * 2 + 1  # pointwise: inductor needs its C++ compiler on CPU
        maybe_break()
        return y - self.seen


def sample(logits, temperatures):
    logits = logits.float().div_(temperatures.unsqueeze(dim=1))
    maybe_break()
    return torch.softmax(logits, dim=-1).argmax(dim=-1)


def draw(probs):
    tokens = torch.multinomial(probs, 4, replacement=True)
    maybe_break()
    return tokens, torch.rand(3)


def compile_(target):
    if MODE == "eager":
        return target
    backend = raising if BACKEND == "raising" else BACKEND
    return torch.compile(target, backend=backend, fullgraph="fullgraph" in FLAGS)


def run_counter():
    counter = Counter()
    compiled = compile_(counter)
    out = compiled(torch.linspace(-1, 1, 6))
    return compiled, {"calls": counter.calls, "seen": counter.seen.item(), "out": out.tolist()}


def run_sampler():
    compiled = compile_(sample)
    logits = torch.full((2, 5), 4.0)
    logits[:, 1] = 8.0
    tokens = compiled(logits, torch.full((2,), 2.0))
    return compiled, {"logits": logits.tolist(), "tokens": tokens.tolist()}


def run_rng():
    compiled = compile_(draw)
    torch.manual_seed(0)
    tokens, inner = compiled(torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]]))
    return compiled, {"tokens": tokens.tolist(), "inner": inner.tolist(), "after": torch.rand(3).tolist()}


report, compiled = {}, []
for probe in PROBES:
    target, report[probe] = globals()["run_" + probe]()
    compiled.append(target)

if acestep_winpatch.is_applied():
    from acestep_winpatch.compile_guard import guard_of

    report["guards"] = [str(guard_of(c)) for c in compiled]
print(json.dumps(report))
