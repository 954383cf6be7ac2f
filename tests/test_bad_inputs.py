"""Hostile inputs to the patched torchaudio.load, info and save, without FFmpeg (the fallback).

Every case runs in a child interpreter (a decoder crash would otherwise take pytest down);
the child prints one line per case as soon as it is done, so a crash or a hang names the
case it happened on. A case *behaves* when it ends in a clear exception of a type torchaudio
users catch (FileNotFoundError, RuntimeError, ValueError) whose message names the file, or,
where a decoder may legitimately read what is there (a truncated file), in a finite float32
``[channels, frames]`` tensor no longer than the original; and a failed save leaves no file
(or an existing file unchanged). The summary line printed at the end gives the counts.
"""

import json
import os
import struct

import pytest

import mounts
from audio_material import write_file
from conftest import run_python
from startup_sandbox import clean_environment, describe

pytestmark = pytest.mark.needs_broken_ffmpeg

RATE, CHANNELS, SECONDS = 16000, 2, 0.5
FRAMES = int(RATE * SECONDS)
CATCHABLE = ("FileNotFoundError", "RuntimeError", "ValueError")
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def huge_wav_header():
    """A 16-bit stereo WAV whose header claims 2**31 frames, followed by 64 real frames."""
    data_bytes = 2**31 * CHANNELS * 2
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, RATE, RATE * CHANNELS * 2, CHANNELS * 2, 16)
    header += b"data" + struct.pack("<I", min(data_bytes, 0xFFFFFFFF))
    return header + bytes(64 * CHANNELS * 2)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Bad files next to good ones they were cut from: ``{case: path}``."""
    folder = tmp_path_factory.mktemp("bad inputs")
    good = {}
    for extension, fmt, subtype in (("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"),
                                    ("mp3", "MP3", "MPEG_LAYER_III")):
        good[extension] = folder / f"good.{extension}"
        write_file(good[extension], SECONDS, RATE, CHANNELS, fmt, subtype)
    cases = {"missing": folder / "does-not-exist.wav", "directory": folder / "a-folder.wav"}
    cases["directory"].mkdir()
    files = {
        "empty": ("empty.wav", b""),
        "random_wav": ("random.wav", os.urandom(4096)),
        "random_flac": ("random.flac", os.urandom(4096)),
        "random_mp3": ("random.mp3", os.urandom(4096)),
        "png_named_wav": ("picture.wav", PNG_HEADER + os.urandom(512)),
        "huge_header": ("claims-2-31-frames.wav", huge_wav_header()),
        "unsupported": ("notes.xyz", b"not audio at all\n" * 64),
    }
    for extension in good:
        content = good[extension].read_bytes()
        files[f"truncated_{extension}"] = (f"truncated.{extension}", content[: len(content) // 3])
        files[f"header_only_{extension}"] = (f"header-only.{extension}", content[:40])
    for case, (name, content) in files.items():
        cases[case] = folder / name
        cases[case].write_bytes(content)
    return {"folder": str(folder), "good": {k: str(v) for k, v in good.items()},
            "cases": {k: str(v) for k, v in cases.items()}}


RUNNER = r"""
import json, math, os, sys
import torch, torchaudio
import acestep_winpatch

spec = json.loads(sys.argv[1])
FRAMES, CATCHABLE = spec["frames"], tuple(spec["catchable"])

def outcome_of(function, *args, **kwargs):
    try:
        return "returned", function(*args, **kwargs)
    except BaseException as error:
        return "raised", error

def report(case, verdict, detail):
    print("CASE " + json.dumps({"case": case, "behaved": verdict, "detail": detail[:300]}), flush=True)

def check_error(case, error, path):
    kind = type(error).__name__
    catchable = [base.__name__ for base in type(error).__mro__ if base.__name__ in CATCHABLE]
    names_file = os.path.basename(path) in str(error)
    report(case, bool(catchable) and names_file, f"{kind} (catch as {catchable}): {error}")

def check_read(case, operation, path):
    how, value = outcome_of(getattr(torchaudio, operation), path)
    if how == "raised":
        return check_error(case, value, path)
    readable = case.startswith(("truncated", "header_only", "huge_header"))
    if operation == "info":
        report(case, readable, f"info returned {value}")
        return
    waveform, rate = value
    finite = bool(torch.isfinite(waveform).all())
    behaved = (waveform.dtype == torch.float32 and waveform.dim() == 2 and waveform.shape[1] <= FRAMES
               and finite and readable)
    report(case, behaved, f"returned {waveform.dtype} {list(waveform.shape)} at {rate} Hz, finite={finite}")

for case, path in spec["cases"].items():
    for operation in ("load", "info"):
        check_read(f"{case}.{operation}", operation, path)

def check_save(case, path, tensor, pre_existing=None, must_fail=False):
    if pre_existing is not None:
        with open(path, "wb") as handle:
            handle.write(pre_existing)
    how, value = outcome_of(torchaudio.save, path, tensor, 16000)
    if how == "raised":
        if os.path.isdir(path):
            untouched = os.listdir(path) == []
        elif pre_existing is None:
            untouched = not os.path.exists(path)
        else:
            untouched = open(path, "rb").read() == pre_existing
        check_error(case, value, path)
        if not untouched:
            report(case + ".destination", False, "a failed save left a written or altered destination")
        return
    if must_fail:
        report(case, False, "save returned although it had to fail")
        return
    back, rate = torchaudio.load(path)
    report(case, back.shape[0] == max(tensor.shape[0], 1) and rate == 16000 and bool(torch.isfinite(back).all()),
           f"written and read back as {list(back.shape)}")

folder = spec["folder"]
ok = torch.linspace(-0.5, 0.5, 800).repeat(2, 1)
check_save("save.zero_channels", os.path.join(folder, "zero-channels.wav"), torch.zeros(0, 800), must_fail=True)
check_save("save.zero_channels_existing", os.path.join(folder, "existing.wav"), torch.zeros(0, 800),
           pre_existing=b"precious bytes", must_fail=True)
check_save("save.unsupported_format", os.path.join(folder, "out.xyz"), ok, must_fail=True)
check_save("save.missing_folder", os.path.join(folder, "no such folder", "out.wav"), ok, must_fail=True)
check_save("save.into_a_directory", spec["cases"]["directory"], ok, must_fail=True)
check_save("save.parent_is_a_file", os.path.join(spec["good"]["wav"], "out.wav"), ok, must_fail=True)
if "read_only_file" in spec:  # POSIX only: see read_only_places
    check_save("save.read_only_folder", os.path.join(spec["read_only_folder"], "out.wav"), ok, must_fail=True)
    read_only = spec["read_only_file"]
    how, value = outcome_of(torchaudio.save, read_only, ok, 16000)
    if how == "raised":
        check_error("save.read_only_file", value, read_only)
    report("save.read_only_file.destination", open(read_only, "rb").read() == b"precious bytes", "unchanged?")
how, value = outcome_of(torchaudio.save, os.path.join(folder, "zero-length.wav"), torch.zeros(2, 0), 16000)
catchable = how == "raised" and any(base.__name__ in CATCHABLE for base in type(value).__mro__)
report("save.zero_length", how == "returned" or catchable, f"{how}: {type(value).__name__}: {value}")
nan_inf = ok.clone(); nan_inf[0, 10] = math.nan; nan_inf[1, 20] = math.inf; nan_inf[1, 30] = -math.inf
how, value = outcome_of(torchaudio.save, os.path.join(folder, "nan-inf.wav"), nan_inf, 16000)
if how == "raised":
    check_error("save.nan_inf", value, os.path.join(folder, "nan-inf.wav"))
else:
    back, _ = torchaudio.load(os.path.join(folder, "nan-inf.wav"))
    finite = bool(torch.isfinite(back).all())
    report("save.nan_inf", finite, f"written; read back finite={finite}")
for dtype in ("int16", "int32", "uint8"):
    tensor = (ok * 100).to(getattr(torch, dtype))
    check_save(f"save.{dtype}", os.path.join(folder, f"from-{dtype}.wav"), tensor)
print("FALLBACKS " + json.dumps(acestep_winpatch.status()["fallbacks"]))
"""


@pytest.fixture
def read_only_places(tmp_path):
    """An empty folder and a file holding ``precious bytes``, both read-only even to root (CI runs as
    root, whom permissions do not stop: there they are read-only bind mounts). None under Wine."""
    if os.name == "nt":  # the Windows lane: Wine, run by root, writes read-only files; no mounts there
        yield {}
        return
    folder, file = tmp_path / "read-only folder", tmp_path / "read-only.wav"
    folder.mkdir()
    file.write_bytes(b"precious bytes")
    with mounts.read_only(folder), mounts.read_only(file):
        yield {"read_only_folder": str(folder), "read_only_file": str(file)}


def test_bad_inputs_get_clear_errors(inputs, read_only_places):
    spec = dict(inputs, **read_only_places, frames=FRAMES, catchable=list(CATCHABLE))
    result = run_python(RUNNER, json.dumps(spec), env=clean_environment(), timeout=180, check=False)
    cases = [json.loads(line[5:]) for line in result.stdout.splitlines() if line.startswith("CASE ")]
    assert result.returncode == 0, f"the child died after {cases[-1:]}\n" + describe(result)
    misbehaved = [case for case in cases if not case["behaved"]]
    print(f"\nbad inputs: {len(cases)} tried, {len(cases) - len(misbehaved)} behaved")
    for case in cases:
        print(("  ok   " if case["behaved"] else "  BAD  ") + case["case"] + ": " + case["detail"][:160])
    assert "FALLBACKS" in result.stdout and '"audio.load"' in result.stdout, describe(result)
    assert misbehaved == [], misbehaved


FUZZ = r"""
import json, os, sys
from hypothesis import given, settings, strategies as st, HealthCheck
import torch, torchaudio
import acestep_winpatch

sources, folder = json.loads(sys.argv[1]), sys.argv[2]
originals = {ext: open(path, "rb").read() for ext, path in sources.items()}
counts = {"tried": 0, "decoded": 0, "clear_error": 0, "unclear": 0}
unclear = []

@st.composite
def mutated(draw):
    ext = draw(st.sampled_from(sorted(originals)))
    data = bytearray(originals[ext])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "zero_run"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif data:
            data[at:at + draw(st.integers(1, 64))] = bytes(min(64, len(data) - at))
    return ext, bytes(data)

@settings(max_examples=int(sys.argv[3]), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(mutated())
def decode(sample):
    ext, data = sample
    path = os.path.join(folder, f"fuzzed.{ext}")
    with open(path, "wb") as handle:
        handle.write(data)
    counts["tried"] += 1
    try:
        waveform, rate = torchaudio.load(path)
        assert waveform.dim() == 2 and waveform.dtype == torch.float32
        counts["decoded"] += 1
    except (RuntimeError, ValueError) as error:
        if "fuzzed." + ext in str(error):
            counts["clear_error"] += 1
        else:
            counts["unclear"] += 1
            unclear.append(f"{type(error).__name__}: {error}"[:200])
    except Exception as error:
        counts["unclear"] += 1
        unclear.append(f"{type(error).__name__}: {error}"[:200])

decode()
print("FUZZ " + json.dumps({"counts": counts, "unclear": unclear[:5]}))
"""

FUZZ_EXAMPLES = 150


def test_fuzzed_real_files_never_crash(inputs, tmp_path):
    """Mutations (bit flips, truncation, insertions, zeroed runs) of real WAV, FLAC and MP3 files."""
    result = run_python(FUZZ, json.dumps(inputs["good"]), str(tmp_path), str(FUZZ_EXAMPLES),
                        env=clean_environment(), timeout=240, check=False)
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout.split("FUZZ ", 1)[1])
    counts = report["counts"]
    print(f"\nfuzz: {counts['tried']} mutated files tried: {counts['decoded']} decoded, "
          f"{counts['clear_error']} clear errors, {counts['unclear']} unclear")
    assert counts["tried"] >= FUZZ_EXAMPLES and counts["unclear"] == 0, report
