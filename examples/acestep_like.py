"""An unmodified script doing what ACE-Step does, in the order it does it.

It knows nothing about acestep_winpatch. Run it plainly where torchaudio cannot load FFmpeg
and it loses the song; run it through ``python -m acestep_winpatch run`` and it works.
"""

import math
import os
import sys
import tempfile

import torch
import torchaudio

workspace = tempfile.TemporaryDirectory(prefix="acestep_like_")  # removed at exit, even after an error
song = os.path.join(workspace.name, "generated song.wav")

# A "generated" stereo song at 48 kHz, saved the way pipeline_ace_step.save_wav_file does.
t = torch.arange(48000 * 2) / 48000
wav = torch.stack([torch.sin(2 * math.pi * 440 * t), torch.sin(2 * math.pi * 660 * t)]) * 0.5
torchaudio.save(song, wav, sample_rate=48000, format="wav", backend="soundfile")
print(f"saved   {song}")

# Reference audio for a cover or repaint, and a duration as the dataset builder computes it.
audio, sr = torchaudio.load(song)
if audio.shape[0] == 1:
    audio = audio.repeat(2, 1)
info = torchaudio.info(song)
print(f"loaded  shape={tuple(audio.shape)} sr={sr} duration={info.num_frames / info.sample_rate:.2f} s")

# The quantized path compiles unconditionally; the offloader clears the cache after each call.
model = torch.compile(torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)))
out = model(torch.randn(3, 16))
torch.cuda.empty_cache()
torch.cuda.synchronize()
print(f"model   output shape={tuple(out.shape)}")
sys.exit(0)
