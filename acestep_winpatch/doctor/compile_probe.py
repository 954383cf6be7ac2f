"""The compile check and inductor's C++ compiler, found in a child process.

Why a child: importing dynamo and inductor costs about 1.7 s and a compile more, so the
child runs alongside the audio checks on another core; a compiler that crashes the
process cannot take doctor down with it; and a fresh interpreter with the same
environment is exactly what a user's ACE-Step run is.

The check calls the patched ``torch.compile`` the way ACE-Step does (``torch.compile(module)``,
default backend) and compares one call with eager: a real inductor compile with the real
compiler and inductor's own caches, as the user's runs have them (a cache path inductor cannot
compile in, such as one with a blank for torch 2.11's g++ command, fails here as it does for
ACE-Step). Three settings keep it cheap without hiding anything it is for (the first two only
where the user has not set them):
``TORCHINDUCTOR_VEC_ISA_OK=0`` skips inductor's vector-ISA probe, which starts ten
interpreters that each import torch (about 17 s here) and can only choose the SIMD width,
never fail a compile; ``TORCHINDUCTOR_COMPILE_THREADS=1`` compiles the one tiny kernel
in-process instead of starting a worker pool; and the child leaves with ``os._exit`` once
its result is written, skipping about 1 s of teardown.

Run as ``python -m acestep_winpatch.doctor.compile_probe``: prints one JSON object.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from .outcome import FAILED, NATIVE, CheckFailed, FellBack, error_text, observe

TIMEOUT_SECONDS = 300
VEC_ISA_VARIABLE = "TORCHINDUCTOR_VEC_ISA_OK"
CHILD_SETTINGS = {VEC_ISA_VARIABLE: "0", "TORCHINDUCTOR_COMPILE_THREADS": "1"}


class Probe:
    """The child process, started at once and read when its results are wanted."""

    def __init__(self):
        env = dict(os.environ)
        for variable, value in CHILD_SETTINGS.items():
            env.setdefault(variable, value)
        self._out = tempfile.TemporaryFile(mode="w+", errors="replace")
        self._err = tempfile.TemporaryFile(mode="w+", errors="replace")
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL, env=env,
        )

    def results(self):
        """``{"check": {...}, "compiler": [summary, details]}``; failures are reported, not raised."""
        try:
            code = self._process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            return _broken(f"the compile probe did not finish within {TIMEOUT_SECONDS} s")
        finally:
            self._out.seek(0)
            self._err.seek(0)
            out, err = self._out.read(), self._err.read()
            self._out.close()
            self._err.close()
        lines = out.strip().splitlines()
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = " | ".join(line for line in err.strip().splitlines()[-3:])
            return _broken(f"the compile probe exited with code {code} without a result: {tail}")


def _broken(text):
    return {"check": {"outcome": FAILED, "detail": text}, "compiler": [f"unknown: {text}", {"error": text}]}


def compile_check():
    """The patched ``torch.compile`` on a tiny module: compiled, eager by the plugin, or failed."""
    import torch
    from torch._dynamo.utils import counters

    class Tiny(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x) * 2 + 1

    module = Tiny()
    compiled = torch.compile(module)
    x = torch.linspace(-1, 1, 16)
    result = compiled(x)
    expected = module(x)
    if not torch.allclose(result, expected):
        raise CheckFailed("the compiled module's output differs from eager")
    from ..compile_guard import State, guard_of

    guard = guard_of(compiled)
    if guard is not None and guard.state is State.EAGER:
        return FellBack(f"the module ran eagerly: {guard.reason}")
    if not counters["stats"]["unique_graphs"]:
        return FellBack("the module ran eagerly: no graph was compiled")
    return "torch.compile(module) compiled with inductor; output matches eager"


def find_compiler():
    """The C++ compiler inductor would use, resolved by inductor's own ``get_cpp_compiler``
    (``CXX``, then ``torch._inductor.config.cpp.cxx``; ``cl`` on Windows)."""
    from torch._inductor import config, cpp_builder

    searched = config.cpp.cxx if sys.platform != "win32" else os.environ.get("CXX", "cl")
    # inductor's candidates, in its order; None stands for a conda gxx it installs on request
    searched = list(searched) if isinstance(searched, (list, tuple)) else [searched]
    try:
        compiler = cpp_builder.get_cpp_compiler()
    except Exception as error:
        text = error_text(error)
        return f"not found: {text}", {"path": None, "searched": searched, "error": text}
    path = shutil.which(compiler) or compiler
    version = _compiler_version(path)
    summary = f"{path} ({version})" if version else path
    return summary, {"path": path, "version": version, "searched": searched}


def _compiler_version(path):
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = output.strip().splitlines()
    return lines[0] if lines else None


def _main():
    result = {}
    try:
        import warnings

        import acestep_winpatch

        warnings.simplefilter("ignore", acestep_winpatch.FallbackWarning)  # the check reports it
        result["check"] = observe(compile_check, acestep_winpatch.status)
        if result["check"]["outcome"] == NATIVE and os.environ.get(VEC_ISA_VARIABLE) == "0":
            result["check"]["detail"] += f" ({VEC_ISA_VARIABLE}=0: inductor's vector-ISA probe skipped)"
    except Exception as error:
        result["check"] = {"outcome": FAILED, "detail": error_text(error)}
    try:
        result["compiler"] = list(find_compiler())
    except Exception as error:
        text = f"probe failed: {error_text(error)}"
        result["compiler"] = [text, {"error": text}]
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    _main()
    os._exit(0)
