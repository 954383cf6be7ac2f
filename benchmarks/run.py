"""Every benchmark figure of issues 6 and 15 in one run: prints the table, writes results.json and results.md.

Usage (from the repository root, with the dev venv's python)::

    python benchmarks/run.py [--quick] [--only 1,3] [--material DIR] [--out DIR]

The working environment needs ``FFMPEG_LD_LIBRARY_PATH`` (printed by ``scripts/setup_env.sh``);
``benchmarks/run.sh`` sets everything up and calls this. A figure that cannot be measured is
reported as n/a with the reason; the exit status is non-zero only when the runner cannot run.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import environments as envs
import report

FIGURES = ("fig_import", "fig_passthrough", "fig_load", "fig_cold_start", "fig_memory", "fig_save", "fig_compile",
           "fig_workload")
TITLES = {
    "fig_import": ("1", "import"),
    "fig_passthrough": ("2", "pass-through cost"),
    "fig_load": ("3", "fallback load speed"),
    "fig_cold_start": ("4", "cold start"),
    "fig_memory": ("5", "memory"),
    "fig_save": ("6", "save"),
    "fig_compile": ("7", "compile"),
    "fig_workload": ("8", "training-set workload"),
}

MACHINE = r"""
import json, os, platform, sys
import torch, torchaudio, numpy, soundfile
versions = {"torch": torch.__version__, "torchaudio": torchaudio.__version__, "numpy": numpy.__version__,
            "soundfile": soundfile.__version__, "libsndfile": soundfile.__libsndfile_version__}
for name in ("torchcodec", "librosa", "wrapt", "psutil"):
    try:
        versions[name] = __import__(name).__version__
    except Exception:
        versions[name] = None
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
           platform.processor() or platform.machine())
memory = next((line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")), None)
print(json.dumps({"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "os": platform.platform(),
                  "python": platform.python_version(), "versions": versions,
                  "torch_threads": torch.get_num_threads(), "cuda_available": torch.cuda.is_available(),
                  "memory_gib": round(int(memory) / 2**20, 1) if memory else None}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run of the runner itself")
    parser.add_argument("--only", default="", help="comma list of figure numbers to run (default: all)")
    parser.add_argument("--material", default=None, help="folder for the generated audio (default: dev cache)")
    parser.add_argument("--out", default=str(envs.HERE / "results"), help="where results.json/.md are written")
    options = parser.parse_args(argv)

    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    environments = envs.Environments(sys.executable, os.environ.get("FFMPEG_LD_LIBRARY_PATH"), quick=options.quick)
    try:
        machine = json.loads(environments.output(["-c", MACHINE], "broken"))
        import material as material_module

        material = material_module.ensure(options.material)
    except (envs.NotMeasurable, ImportError, OSError) as error:
        print(f"benchmarks cannot run: {error}", file=sys.stderr)
        return 2
    environments.confirm()
    progress(f"machine: {report.describe_machine(machine)}")
    progress(f"working environment: {environments.working_confirmed}; broken: {environments.broken_confirmed}")

    wanted = {part.strip() for part in options.only.split(",") if part.strip()}
    rows, tables = [], []
    for name in FIGURES:
        number, title = TITLES[name]
        if wanted and number not in wanted:
            continue
        figure_started = time.perf_counter()
        rows.extend(run_figure(name, number, title, environments, material, tables))
        progress(f"figure {number} ({title}): {time.perf_counter() - figure_started:.0f} s")

    summary = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.environ.get("WINPATCH_BENCHMARK_COMMAND", "python benchmarks/run.py"),
                             *(argv if argv is not None else sys.argv[1:])]),
        "commit": git_commit(),
        "machine": machine,
        "environments": {"working": environments.working_confirmed, "broken": environments.broken_confirmed},
        "material": material,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "load_average": {"start": load_at_start, "end": os.getloadavg()[0]},
    }
    json_path, md_path = report.write(Path(options.out), summary, rows, tables)
    print(report.text_table(rows))
    counts = {status: sum(row.status == status for row in rows) for status in ("met", "missed", "n/a", "info")}
    print(f"\n{counts['met']} met, {counts['missed']} missed, {counts['n/a']} n/a, {counts['info']} without target; "
          f"{summary['elapsed_s']:.0f} s. Written: {json_path}, {md_path}")
    return 0


def run_figure(name, number, title, environments, material, tables):
    """The figure's rows, or one n/a row with the reason when it cannot be measured at all."""
    import importlib

    try:
        module = importlib.import_module(name)
        return module.measure(environments, material, tables)
    except envs.NotMeasurable as error:
        return [report.unavailable(number, title, "-", str(error))]
    except Exception as error:
        return [report.unavailable(number, title, "-", f"the runner failed: {type(error).__name__}: {error}")]


def git_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=str(envs.REPO), timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True,
                               cwd=str(envs.REPO), timeout=30).stdout.strip()
        return f"{head}{' (with uncommitted changes)' if dirty else ''}" or None
    except OSError:
        return None


def progress(text):
    print(f"[benchmarks] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
