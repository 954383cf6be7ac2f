"""DataLoader worker processes started with "spawn" (how Windows starts every worker).

A spawned worker is a new interpreter: it inherits nothing from the parent's patched
modules. It is patched only if an activation path reaches it: sitecustomize and the ``.pth``
run at every interpreter start, the launcher puts a sitecustomize shim on PYTHONPATH for its
children, and a plain ``import acestep_winpatch`` runs in a worker only when it sits at the top
of the main script (spawn re-imports the main script there as ``__mp_main__``, skipping what is
under ``if __name__ == "__main__":``).

Each worker reports its pid, whether torchaudio.load is our proxy there, and what loading a
file gave. Without FFmpeg, a worker that is not patched fails with torchaudio's own error.
"""

import json
import shutil

import pytest

from audio_material import CHANNELS, RATE, SECONDS
from startup_sandbox import REPOSITORY, Sandbox, describe, pythonpath

pytestmark = pytest.mark.slow

FRAMES = int(RATE * SECONDS)
ITEMS = 4

MAIN_SCRIPT = """
import json, os, sys
{top_level_import}
import torchaudio
from torch.utils.data import DataLoader, Dataset


class Clips(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        winpatch = sys.modules.get("acestep_winpatch")
        row = {{
            "pid": os.getpid(),
            "patched": type(torchaudio.load).__name__ == "WinpatchProxy",
            "activated_by": winpatch.status()["activated_by"] if winpatch else None,
        }}
        try:
            waveform, rate = torchaudio.load(self.paths[index])
            row["loaded"] = [list(waveform.shape), rate]
        except Exception as error:
            row["error"] = f"{{type(error).__name__}}: {{error}}".splitlines()[0]
        return row


if __name__ == "__main__":
    {guarded_import}
    loader = DataLoader(Clips([sys.argv[1]] * {items}), batch_size=None, num_workers=2,
                        multiprocessing_context="spawn")
    rows = list(loader)
    print("ROWS " + json.dumps({{"main_pid": os.getpid(), "rows": rows}}))
"""


def write_main(sandbox, top_level_import="", guarded_import="pass"):
    text = MAIN_SCRIPT.format(top_level_import=top_level_import, guarded_import=guarded_import, items=ITEMS)
    return sandbox.add_folder("app", {"main.py": text}) / "main.py"


def worker_rows(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith("ROWS ")]
    assert result.returncode == 0 and len(lines) == 1, describe(result)
    report = json.loads(lines[0][len("ROWS "):])
    rows = report["rows"]
    pids = {row["pid"] for row in rows}
    assert len(rows) == ITEMS and report["main_pid"] not in pids and len(pids) == 2, report
    return rows


def assert_workers_patched(rows, route):
    for row in rows:
        assert row["patched"] and row["activated_by"] == [route], row
        assert row.get("loaded") == [[CHANNELS, FRAMES], RATE], row


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path)


def test_workers_patched_through_sitecustomize(sandbox, wav):
    ours = sandbox.folder / "ours"
    ours.mkdir()
    shutil.copyfile(REPOSITORY / "sitecustomize_example.py", ours / "sitecustomize.py")
    result = sandbox.run(write_main(sandbox), wav, env={"PYTHONPATH": pythonpath(ours)})
    assert_workers_patched(worker_rows(result), "sitecustomize")


def test_workers_patched_through_pth(sandbox, wav):
    installed = sandbox.run("-m", "acestep_winpatch", "install-pth", sandbox.site_packages)
    assert installed.returncode == 0, describe(installed)
    assert_workers_patched(worker_rows(sandbox.run(write_main(sandbox), wav)), "pth")


def test_workers_patched_through_launcher(sandbox, wav):
    result = sandbox.run("-m", "acestep_winpatch", "run", write_main(sandbox), wav)
    assert_workers_patched(worker_rows(result), "launcher")


def test_top_level_import_in_the_main_script_reaches_workers(sandbox, wav):
    """spawn re-imports the main script in each worker, so its top-level import runs there."""
    result = sandbox.run(write_main(sandbox, top_level_import="import acestep_winpatch"), wav)
    assert_workers_patched(worker_rows(result), "import")


def test_import_under_the_main_guard_does_not_reach_workers(sandbox, wav, ffmpeg_works):
    """Code under ``if __name__ == "__main__":`` does not run in workers: they are unpatched."""
    result = sandbox.run(write_main(sandbox, guarded_import="import acestep_winpatch"), wav)
    for row in worker_rows(result):
        assert not row["patched"] and row["activated_by"] is None, row
        if ffmpeg_works:
            assert row.get("loaded") == [[CHANNELS, FRAMES], RATE], row
        else:
            assert "Could not load libtorchcodec" in row.get("error", ""), row
