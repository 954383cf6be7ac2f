"""Real ACE-Step 1.5 code (the ``ace-step15-fork`` package, unmodified) handling a generated song.

It saves the song with ACE-Step's own saver, converts it with its converter, scans the folder
with its LoRA dataset builder (which reads each duration with ``torchaudio.info``), then runs one
of nano-vllm's ``@torch.compile`` layers. It knows nothing about acestep_winpatch.

Usage: ``python examples/acestep15_song.py FOLDER`` (the files go to FOLDER).
"""

import math
import os
import sys
import types

import soundfile
import torch

import acestep
from acestep.audio_utils import AudioSaver
from acestep.training.dataset_builder import DatasetBuilder

folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
time = torch.arange(48000 * 2) / 48000
song = torch.stack([torch.sin(2 * math.pi * 440 * time), torch.sin(2 * math.pi * 660 * time)]) * 0.5


def step(label, action):
    try:
        print(f"{label:10}{action()}")
    except Exception as error:
        print(f"{label:10}FAILED: {type(error).__name__}: {str(error).strip().splitlines()[0]}")


def save():
    path = AudioSaver().save_audio(song, os.path.join(folder, "generated song"), sample_rate=48000)
    return f"{os.path.basename(path)} ({soundfile.info(path).subtype})"


def convert():
    path = AudioSaver().convert_audio(os.path.join(folder, "generated song.flac"), os.path.join(folder, "song.wav"), "wav")
    return f"{os.path.basename(path)} ({soundfile.info(path).frames} frames)"


def scan():
    samples, _ = DatasetBuilder().scan_directory(folder)
    return ", ".join(f"{sample.filename}: {sample.duration} s" for sample in samples)


def nano_vllm_layer():
    # nano-vllm's package __init__ starts its CUDA engine (flash_attn): import the layer module alone.
    bare = types.ModuleType("nanovllm")
    bare.__path__ = [os.path.join(os.path.dirname(acestep.__file__), "third_parts", "nano-vllm", "nanovllm")]
    sys.modules.setdefault("nanovllm", bare)
    from nanovllm.layers.layernorm import RMSNorm

    x = torch.randn(3, 64)
    expected = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
    out = RMSNorm(64)(x.clone())
    return f"RMSNorm output shape={tuple(out.shape)}, equal to the formula: {torch.allclose(out, expected)}"


step("saved", save)
step("converted", convert)
step("scanned", scan)
step("compiled", nano_vllm_layer)
