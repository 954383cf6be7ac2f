"""``scripts/setup_env.sh`` on a machine whose pip sees nothing but PyPI (no find-links, no
pip configuration): the CPU-only torch is not there, and setup says so in one line."""

import os
import subprocess

from startup_sandbox import REPOSITORY, describe


def test_a_missing_cpu_torch_is_one_line_that_says_what_to_do(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, WINPATCH_DEV_CACHE=str(tmp_path))
    result = subprocess.run(["bash", str(REPOSITORY / "scripts" / "setup_env.sh"), "cpu"], capture_output=True,
                            text=True, env=env, timeout=600)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and result.stdout == "", describe(result)
    assert lines[-1].startswith("[setup cpu] torch==2.13.0+cpu is not on your package index"), describe(result)
    assert "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" in lines[-1], describe(result)
    assert len(lines) == 2 and not (tmp_path / "venv-cpu").exists(), describe(result)
