"""The two environments every figure compares, as explicit environments of real subprocesses.

``working``: FFmpeg's shared libraries are on ``LD_LIBRARY_PATH``, so native torchaudio works.
``broken``: they are not, so torchaudio >= 2.9 fails exactly as on Windows
(``RuntimeError: Could not load libtorchcodec``). ``LD_LIBRARY_PATH`` is read at process
start, which is why every measurement runs in a child process with its own environment.

The package is put on ``PYTHONPATH``: it is then found by the ordinary path finder before
the editable-install finder of the dev venv gets a say.
"""

import json
import os
import subprocess
import time
from pathlib import Path

from probe import RESULT_MARKER

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


# Not passed on: the plugin's own settings (each child sets what it measures), and
# PYTHONDONTWRITEBYTECODE, which some sandboxes set and which would make every import
# recompile its source instead of reading the cached bytecode a real install has.
IGNORED = ("PYTHONDONTWRITEBYTECODE",)


class NotMeasurable(Exception):
    """A figure (or one of its rows) cannot be measured here; the message says why."""


class Environments:
    """Builds each child's environment and runs children in it."""

    def __init__(self, python, ffmpeg_library_path, quick=False):
        self.python = python
        self.ffmpeg_parts = [part for part in (ffmpeg_library_path or "").split(":") if part]
        self.quick = quick
        self.broken_confirmed = None
        self.working_confirmed = None

    def repeats(self, full):
        """Fewer repeats under ``--quick`` (a smoke run of the runner itself)."""
        return max(2, full // 4) if self.quick else full

    def environ(self, name, **extra):
        """The environment for ``name`` (``working`` or ``broken``); ``extra`` adds or (None) removes."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("ACESTEP_WINPATCH") and key not in IGNORED}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        others = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p not in self.ffmpeg_parts]
        library_path = (self.ffmpeg_parts if name == "working" else []) + others
        if library_path:
            env["LD_LIBRARY_PATH"] = ":".join(library_path)
        else:
            env.pop("LD_LIBRARY_PATH", None)
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def require(self, name):
        """Raise NotMeasurable unless environment ``name`` was confirmed to be what it claims."""
        confirmed = self.working_confirmed if name == "working" else self.broken_confirmed
        if not confirmed:
            raise NotMeasurable(f"the {name} environment could not be established ({confirmed!r})")

    def confirm(self):
        """Prove each environment: FFmpeg loadable in ``working``, not loadable in ``broken``."""
        probe = "import torchcodec.decoders"
        for name in ("working", "broken"):
            result = subprocess.run([self.python, "-c", probe], capture_output=True, text=True,
                                    env=self.environ(name), timeout=300)
            loadable = result.returncode == 0
            wanted = name == "working"
            if loadable == wanted:
                verdict = True
            elif not self.ffmpeg_parts and name == "working":
                verdict = "FFMPEG_LD_LIBRARY_PATH is not set (eval the output of scripts/setup_env.sh main)"
            else:
                verdict = f"FFmpeg loadable={loadable}: {last_error_line(result.stderr)}"
            setattr(self, f"{name}_confirmed", verdict)

    def run(self, script, arguments, name, timeout=600, **extra):
        """Run ``benchmarks/<script>`` as a child with JSON ``arguments``; return its JSON result."""
        command = [self.python, str(HERE / script), json.dumps(arguments)]
        result = subprocess.run(command, capture_output=True, text=True, env=self.environ(name, **extra),
                                timeout=timeout, cwd=str(REPO))
        payloads = [line[len(RESULT_MARKER):] for line in result.stdout.splitlines() if line.startswith(RESULT_MARKER)]
        if result.returncode != 0 or not payloads:
            raise NotMeasurable(f"{script} {arguments.get('mode', '')} in the {name} environment failed: "
                                f"{last_error_line(result.stderr) or 'exit status ' + str(result.returncode)}")
        return json.loads(payloads[-1])

    def take_turns(self, script, contenders, rounds):
        """``script`` run once per contender per round, the contenders taking turns, so that a change
        in the machine's load hits all of them. ``contenders``: ``(name, environment, plugin_on,
        arguments)``. Returns ``([(name, result), ...], problems)``; one that fails is not run again."""
        results, problems = [], {}
        for _ in range(rounds):
            for name, environment, plugin_on, arguments in contenders:
                if name in problems:
                    continue
                extra = {} if plugin_on else {"ACESTEP_WINPATCH": "0"}
                try:
                    self.require(environment)
                    results.append((name, self.run(script, arguments, environment, **extra)))
                except Exception as error:
                    problems[name] = str(error)
        return results, problems

    def wall_time(self, command, name, **extra):
        """Seconds from spawning ``command`` (a full argv) to its exit, in environment ``name``."""
        env = self.environ(name, **extra)
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, env=env, cwd=str(REPO))
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise NotMeasurable(f"{' '.join(command)[:120]} failed: {last_error_line(result.stderr.decode())}")
        return elapsed

    def output(self, argv, name, **extra):
        """The stdout of ``python argv`` in environment ``name`` (raises NotMeasurable on failure).

        ``argv`` runs with the dev venv's python unless its first item is another interpreter.
        """
        command = argv if not argv[0].startswith("-") else [self.python, *argv]
        result = subprocess.run(command, capture_output=True, text=True, env=self.environ(name, **extra),
                                cwd=str(REPO), timeout=300)
        if result.returncode != 0:
            raise NotMeasurable(f"{' '.join(command)[:120]} failed: {last_error_line(result.stderr)}")
        return result.stdout


def last_error_line(stderr):
    """The most telling line of a child's stderr: the last exception line, else the last line."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if ("Error" in line or "Exception" in line) and not line.startswith("File ")]
    chosen = errors[-1] if errors else (lines[-1] if lines else "")
    return chosen[:300]
