"""torch.distributed.init_process_group("nccl") where torch has no NCCL, and the libuv-less store.

The CPU-only torch build (venv-cpu) really has no NCCL, like the Windows and macOS builds:
two real processes rendezvous over a ``file://`` store and run an ``all_reduce``. Lightning's
DDP strategy is exercised for real in venv-lightning (venv-cpu plus ``lightning``). A torch
without libuv cannot exist here (every Linux build has it): that one case uses a stand-in.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from conftest import venv_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RANK = """
    import datetime, json, sys
    import torch, torch.distributed as dist
    rank, store, backend = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    try:
        dist.init_process_group(backend, init_method="file://" + store, rank=rank, world_size=2,
                                timeout=datetime.timedelta(seconds=60))
        value = torch.tensor([rank + 1.0])
        dist.all_reduce(value)
        print(json.dumps({"backend": dist.get_backend(), "sum": value.item()}))
        dist.destroy_process_group()
    except Exception as error:
        print(json.dumps({"error": [type(error).__name__, str(error).splitlines()[0]]}))
    if "acestep_winpatch" in sys.modules:
        print(json.dumps(sys.modules["acestep_winpatch"].status()))
"""


def environment(**extra):
    env = {**os.environ, "PYTHONPATH": REPO, **extra}
    env.pop("ACESTEP_WINPATCH_DISABLE", None)
    return env


def two_ranks(python, tmp_path, backend="nccl", prefix="", **env):
    """Start ranks 0 and 1 together; return each one's printed JSON lines."""
    code = prefix + textwrap.dedent(RANK)
    store = str(tmp_path / "store")
    ranks = [subprocess.Popen([python, "-c", code, str(rank), store, backend], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=environment(**env)) for rank in (0, 1)]
    lines = []
    for process in ranks:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        lines.append([json.loads(line) for line in out.strip().splitlines()])
    return lines


def test_cpu_only_build_without_the_plugin_has_no_nccl(tmp_path):
    for result, in two_ranks(venv_python("cpu"), tmp_path, ACESTEP_WINPATCH="0"):
        assert result == {"error": ["RuntimeError", "Distributed package doesn't have NCCL built in"]}


def test_cpu_only_build_with_the_plugin_runs_the_all_reduce_over_gloo(tmp_path):
    for result, status in two_ranks(venv_python("cpu"), tmp_path, prefix="import acestep_winpatch\n"):
        assert result == {"backend": "gloo", "sum": 3.0}
        assert status["notes"]["distributed.init_process_group"] == \
            "nccl requested, this torch has no NCCL: using gloo"
        assert status["fallbacks"]["distributed"]["count"] == 1


def test_a_gloo_request_is_untouched(tmp_path):
    for result, status in two_ranks(venv_python("cpu"), tmp_path, backend="gloo", prefix="import acestep_winpatch\n"):
        assert result == {"backend": "gloo", "sum": 3.0}
        assert "distributed" not in status["fallbacks"]


ONE_RANK_NCCL = """
import datetime, json, os, sys
import torch.distributed as dist
try:
    dist.init_process_group("nccl", init_method="file://" + sys.argv[1], rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=30))
    print(json.dumps({"backend": dist.get_backend()}))
except Exception as error:
    print(json.dumps({"error": [type(error).__name__, str(error).splitlines()[0]]}))
status = sys.modules["acestep_winpatch"].status() if "acestep_winpatch" in sys.modules else {}
print(json.dumps(status.get("fallbacks", {})), flush=True)
os._exit(0)  # torch 2.11 hangs at exit after a failed NCCL process group
"""


def test_where_nccl_exists_its_own_error_stands(tmp_path):
    """The CUDA build has NCCL but no GPU here: the request goes to torch unchanged and fails
    with torch's own error instead of being moved to gloo."""
    outcomes = []
    for plugin in ("0", "1"):
        code = ("import acestep_winpatch\n" if plugin == "1" else "") + ONE_RANK_NCCL
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"store{plugin}")], capture_output=True,
                                text=True, timeout=240, env=environment(ACESTEP_WINPATCH=plugin))
        outcomes.append([json.loads(line) for line in result.stdout.strip().splitlines()])
    native, patched = outcomes
    assert native[0] == {"error": ["ValueError", "ProcessGroupNCCL is only supported with GPUs, no GPUs found!"]}
    assert patched == native == [native[0], {}]


LIBUV_LESS = '''
import sys
import torch.distributed
rendezvous = sys.modules["torch.distributed.rendezvous"]
real_store = rendezvous.TCPStore


def TCPStore(*args, use_libuv=True, **kwargs):
    """Stand-in for a Windows torch 2.4 build without libuv, which cannot exist on Linux: the
    TCP store raises that build's error whenever libuv is asked for."""
    if use_libuv:
        raise RuntimeError("use_libuv was requested but PyTorch was build without libuv support, "
                           "run with USE_LIBUV=0 to disable it.")
    return real_store(*args, use_libuv=use_libuv, **kwargs)


rendezvous.TCPStore = TCPStore
'''

ENV_RENDEZVOUS = """
import json, os, sys
import torch.distributed as dist
try:
    dist.init_process_group("gloo", rank=0, world_size=1)  # env:// as Lightning does it
    print(json.dumps({"backend": dist.get_backend(), "world": dist.get_world_size()}))
    dist.destroy_process_group()
except Exception as error:
    print(json.dumps({"error": [type(error).__name__, str(error).splitlines()[0]]}))
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("plugin", ["0", "1"])
def test_a_torch_without_libuv_gets_the_non_libuv_store(plugin):
    code = ("import acestep_winpatch\n" if plugin == "1" else "") + LIBUV_LESS + ENV_RENDEZVOUS
    result = subprocess.run([venv_python("cpu"), "-c", code], capture_output=True, text=True, timeout=240,
                            env=environment(ACESTEP_WINPATCH=plugin, MASTER_ADDR="127.0.0.1",
                                            MASTER_PORT=str(free_port())))
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    if plugin == "0":
        assert outcome["error"] == ["RuntimeError", "use_libuv was requested but PyTorch was build without libuv "
                                    "support, run with USE_LIBUV=0 to disable it."]
    else:
        assert outcome == {"backend": "gloo", "world": 1}


LIGHTNING_SCRIPT = '''
import json, os, sys
import torch
import lightning.pytorch as pl
from lightning.pytorch.strategies import DDPStrategy


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, index):
        return self.layer(batch).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def on_train_end(self):
        total = torch.tensor([float(self.global_rank + 1)])
        torch.distributed.all_reduce(total)
        report = {"rank": self.global_rank, "backend": torch.distributed.get_backend(), "sum": total.item()}
        with open(os.path.join(sys.argv[1], f"rank{self.global_rank}.json"), "w") as handle:
            json.dump(report, handle)


if __name__ == "__main__":
    data = torch.utils.data.DataLoader(torch.randn(8, 4), batch_size=2)
    trainer = pl.Trainer(strategy=DDPStrategy(process_group_backend="nccl"), devices=2, accelerator="cpu",
                         max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=sys.argv[1])
    trainer.fit(Tiny(), data)
'''


@pytest.mark.slow
@pytest.mark.parametrize("plugin", ["0", "1"])
def test_lightning_ddp_forcing_nccl_on_a_build_without_it(tmp_path, plugin):
    """Lightning's DDP re-launches the script for rank 1: the launcher reaches that child too."""
    script = tmp_path / "train.py"
    script.write_text(LIGHTNING_SCRIPT)
    command = [venv_python("lightning")] + (["-m", "acestep_winpatch", "run"] if plugin == "1" else [])
    result = subprocess.run(command + [str(script), str(tmp_path)], capture_output=True, text=True, timeout=400,
                            env=environment(ACESTEP_WINPATCH=plugin, MASTER_PORT=str(free_port())), cwd=tmp_path)
    if plugin == "0":
        assert result.returncode != 0
        assert "RuntimeError: Distributed package doesn't have NCCL built in" in result.stderr
        assert not list(tmp_path.glob("rank*.json"))
    else:
        assert result.returncode == 0, result.stderr[-3000:]
        reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
        assert reports == [{"rank": rank, "backend": "gloo", "sum": 3.0} for rank in (0, 1)]
