"""Small stand-ins for ACE-Step's compiled pieces, shared by the compile test subprocesses.

``AutoEncoder`` has methods other than ``forward`` (ACE-Step 1.5 calls ``encode``/``decode`` on
its compiled VAE); ``RMSNorm`` is decorated in its class body and ``silu_and_mul`` at module
level, as nano-vllm does when its modules are imported.
"""

import torch


class AutoEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(8, 4)
        self.dec = torch.nn.Linear(4, 8)
        self.register_buffer("scale", torch.tensor(2.0))

    def encode(self, x):
        return torch.tanh(self.enc(x))

    def decode(self, z):
        return self.dec(z) * self.scale

    def forward(self, x):
        return self.decode(self.encode(x))


class RMSNorm(torch.nn.Module):
    def __init__(self, size=8):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.linspace(0.5, 1.5, size))

    @torch.compile
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


@torch.compile
def silu_and_mul(x):
    a, b = x.chunk(2, -1)
    return torch.nn.functional.silu(a) * b


@torch.compile(mode="max-autotune-no-cudagraphs", fullgraph=True, dynamic=False)
def rotary(x, cos, sin):
    a, b = x.chunk(2, -1)
    return torch.cat((a * cos - b * sin, b * cos + a * sin), -1)


def sample_input(rows=3, size=8):
    torch.manual_seed(0)
    return torch.randn(rows, size)
