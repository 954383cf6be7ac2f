"""ACE-Step 1.5's own code paths that reach torchaudio and torch.compile, run unmodified.

Usage: ``python acestep15_paths.py SOURCE_FOLDER OUTPUT_FOLDER`` (SOURCE_FOLDER holds ``song.wav``
and ``song.flac``, 3 s of 48 kHz stereo written by the test with soundfile). Prints one JSON
object: what each path returned or raised; the nano-vllm layers' outputs go to
``OUTPUT_FOLDER/layers.pt`` for comparison with eager runs.

nano-vllm's layers are imported from the copy ACE-Step 1.5 ships (``acestep/third_parts``) under a
bare ``nanovllm`` package: the real ``nanovllm/__init__.py`` imports its engine, whose attention
needs flash_attn and Triton kernels for CUDA, which cannot exist on this CPU-only machine. The
layer modules themselves are imported and run unchanged.
"""

import json
import math
import os
import sys
import types

import soundfile
import torch

source, output = sys.argv[1], sys.argv[2]
report = {}


def attempt(name, path):
    try:
        report[name] = path()
    except Exception as error:
        report[name] = {"error": f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"}


def song(seconds=3.0, rate=48000):
    time = torch.arange(int(seconds * rate)) / rate
    return torch.stack([0.5 * torch.sin(2 * math.pi * 440 * time), 0.25 * torch.sin(2 * math.pi * 660 * time)])


def saver_writes_the_generated_song():
    from acestep.audio_utils import AudioSaver

    path = AudioSaver().save_audio(song(), os.path.join(output, "generated song"), sample_rate=48000)
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return {"path": os.path.basename(path), "subtype": soundfile.info(path).subtype, "rate": rate,
            "max_error": float((torch.from_numpy(data.T) - song()).abs().max())}


def converter_reencodes_the_users_file():
    from acestep.audio_utils import AudioSaver

    path = AudioSaver().convert_audio(os.path.join(source, "song.wav"), os.path.join(output, "converted.flac"), "flac")
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    original, _ = soundfile.read(os.path.join(source, "song.wav"), dtype="float32", always_2d=True)
    return {"path": os.path.basename(path), "rate": rate, "frames": len(data),
            "max_error": float(abs(data - original).max())}


def dataset_builder_scans_durations():
    from acestep.training.dataset_builder import DatasetBuilder

    samples, _ = DatasetBuilder().scan_directory(source)
    return {sample.filename: sample.duration for sample in samples}


def training_dataset_loads_the_audio():
    from acestep.training.data_module import AceStepTrainingDataset

    dataset = AceStepTrainingDataset([{"audio_path": os.path.join(source, "song.flac"), "caption": "a tone"}],
                                     dit_handler=None)
    audio = dataset[0]["audio"]
    original, _ = soundfile.read(os.path.join(source, "song.flac"), dtype="float32", always_2d=True)
    frames = len(original)
    return {"shape": list(audio.shape), "max_error": float((audio[:, :frames] - torch.from_numpy(original.T)).abs().max()),
            "padding_is_silent": bool((audio[:, frames:] == 0).all())}


def nanovllm_layers():
    import acestep

    bare = types.ModuleType("nanovllm")
    bare.__path__ = [os.path.join(os.path.dirname(acestep.__file__), "third_parts", "nano-vllm", "nanovllm")]
    sys.modules["nanovllm"] = bare
    from nanovllm.layers.activation import SiluAndMul
    from nanovllm.layers.layernorm import RMSNorm
    from nanovllm.layers.rotary_embedding import get_rope
    from nanovllm.layers.sampler import Sampler

    torch.manual_seed(0)
    inputs = {"x": torch.randn(4, 64), "residual": torch.randn(4, 64), "gate": torch.randn(4, 128),
              "query": torch.randn(4, 2, 16), "key": torch.randn(4, 1, 16), "logits": torch.randn(2, 50)}
    outputs, errors = {}, {}
    calls = {
        "rms": lambda: RMSNorm(64)(inputs["x"].clone()),
        "add_rms": lambda: RMSNorm(64)(inputs["x"].clone(), inputs["residual"].clone()),
        "silu_and_mul": lambda: SiluAndMul()(inputs["gate"]),
        "rotary": lambda: get_rope(16, 16, 32, 10000.0)(torch.tensor([0, 3, 7, 31]), inputs["query"], inputs["key"]),
        "sampler": lambda: (torch.manual_seed(1), Sampler()(inputs["logits"].clone(), torch.tensor([0.7, 1.0]),
                                                            torch.tensor([5, 50]), torch.tensor([0.9, 1.0])),
                            torch.rand(3))[1:],  # the tokens, then what the RNG gives next
    }
    for name, call in calls.items():
        try:
            outputs[name] = call()
        except Exception as error:
            errors[name] = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    inplace_input = inputs["x"].clone()
    try:
        RMSNorm(64).rms_forward(inplace_input)
        outputs["rms_input_after_call"] = inplace_input  # nano-vllm's x.mul_ writes into a float32 input
    except Exception as error:
        errors["rms_input_after_call"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    torch.save(outputs, os.path.join(output, "layers.pt"))
    return {"ran": sorted(outputs), "errors": errors}


for name, path in [("saver", saver_writes_the_generated_song), ("converter", converter_reencodes_the_users_file),
                   ("dataset_builder", dataset_builder_scans_durations),
                   ("training_dataset", training_dataset_loads_the_audio), ("nanovllm", nanovllm_layers)]:
    attempt(name, path)
plugin = sys.modules.get("acestep_winpatch")
report["activated_by"] = plugin.status()["activated_by"] if plugin else None
print(json.dumps(report))
