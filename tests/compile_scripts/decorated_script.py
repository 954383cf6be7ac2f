"""Imports ``tiny_models`` (decorators applied at import time) after whatever activated the
plugin, runs each compiled piece, and prints one JSON line: do results equal eager, and is
every compiled object guarded."""

import json
import sys

import torch

import tiny_models

x = tiny_models.sample_input()
norm = tiny_models.RMSNorm()
guard_of = None
if "acestep_winpatch" in sys.modules:
    from acestep_winpatch.compile_guard import guard_of

compiled = [tiny_models.RMSNorm.__dict__["forward"], tiny_models.silu_and_mul, tiny_models.rotary]
cos, sin = torch.ones(3, 4) * 0.5, torch.ones(3, 4) * 0.25
results = {
    "rmsnorm": torch.allclose(norm(x), x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight),
    "silu_and_mul": torch.allclose(tiny_models.silu_and_mul(x), torch.nn.functional.silu(x[:, :4]) * x[:, 4:]),
    "rotary": torch.allclose(tiny_models.rotary(x, cos, sin), torch.cat((x[:, :4] * cos - x[:, 4:] * sin, x[:, 4:] * cos + x[:, :4] * sin), -1)),
    "guards": [str(guard_of(c)) if guard_of else None for c in compiled],
    "activated_by": sys.modules["acestep_winpatch"].status()["activated_by"] if guard_of else [],
}
print(json.dumps(results))
