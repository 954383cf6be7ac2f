#!/usr/bin/env bash
# The one benchmark command (issue 6): prepares the dev environment (venv, private FFmpeg 5.1
# libraries) with scripts/setup_env.sh, then runs every figure and writes
# benchmarks/results/results.json and results.md. Arguments go to benchmarks/run.py
# (--quick, --only 1,3, --material DIR, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup_env.sh main)"
WINPATCH_BENCHMARK_COMMAND="bash benchmarks/run.sh" exec "$WINPATCH_VENV/bin/python" benchmarks/run.py "$@"
