"""What torchaudio 2.11's own ``test/torchaudio_unittest/test_load_save_torchcodec.py`` checks,
re-stated here and run in both CI environments: natively where FFmpeg works, through the
fallback where it does not (issue 11, "Done when"). Each test names the upstream test whose
behaviour it covers; the code is ours, on our own material (upstream uses its asset files).
"""

import pytest
import torch
import torchaudio

import acestep_winpatch  # noqa: F401  (applies the patches, as a user's activation path does)
from audio_material import write_file

RATE = 16000
# Upstream loads five WAV assets: mono and stereo, 8 to 48 kHz. These stand in for them.
WAV_FILES = {"mono 16k.wav": (16000, 1), "stereo 44k.wav": (44100, 2), "mono 32k.wav": (32000, 1),
             "stereo 48k.wav": (48000, 2)}


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upstream parity")
    paths = {}
    for name, (rate, channels) in WAV_FILES.items():
        paths[name] = folder / name
        write_file(paths[name], 0.5, rate, channels, "WAV", "PCM_16")
    return paths


@pytest.fixture
def sine(wavs):
    return wavs["mono 16k.wav"]


# upstream: test_basic_load
@pytest.mark.parametrize("name", sorted(WAV_FILES))
def test_load_and_load_with_torchcodec_agree(wavs, name):
    waveform, rate = torchaudio.load(wavs[name])
    direct, direct_rate = torchaudio.load_with_torchcodec(wavs[name])
    assert rate == direct_rate == WAV_FILES[name][0]
    assert waveform.shape == direct.shape and waveform.dtype == direct.dtype == torch.float32
    torch.testing.assert_close(waveform, direct)


# upstream: test_frame_offset_and_num_frames
@pytest.mark.parametrize("frame_offset, num_frames", [(0, 1000), (1000, 2000), (5000, -1), (0, -1)])
def test_frame_offset_and_num_frames(sine, frame_offset, num_frames):
    waveform, rate = torchaudio.load(sine, frame_offset=frame_offset, num_frames=num_frames)
    direct, direct_rate = torchaudio.load_with_torchcodec(sine, frame_offset=frame_offset, num_frames=num_frames)
    assert rate == direct_rate and waveform.shape == direct.shape
    torch.testing.assert_close(waveform, direct)
    expected = 8000 - frame_offset if num_frames == -1 else num_frames
    assert waveform.shape == (1, expected)


# upstream: test_channels_first
def test_channels_first(wavs):
    path = wavs["stereo 44k.wav"]
    first, _ = torchaudio.load_with_torchcodec(path, channels_first=True)
    last, _ = torchaudio.load_with_torchcodec(path, channels_first=False)
    torch.testing.assert_close(first, last.transpose(0, 1))
    torch.testing.assert_close(first, torchaudio.load(path, channels_first=True)[0])
    torch.testing.assert_close(last, torchaudio.load(path, channels_first=False)[0])


# upstream: test_normalize_parameter_warning, test_buffer_size_parameter_warning,
# test_backend_parameter_warning, test_format_parameter
@pytest.mark.parametrize("argument, match", [({"normalize": False}, "normalize=False.*ignored"),
                                             ({"buffer_size": 8192}, "buffer_size.*not used"),
                                             ({"backend": "ffmpeg"}, "backend.*not used"),
                                             ({"format": "wav"}, "format.*not supported")])
def test_load_warns_about_each_ignored_argument(sine, argument, match):
    with pytest.warns(UserWarning, match=match):
        waveform, rate = torchaudio.load_with_torchcodec(sine, **argument)
    assert waveform.dtype == torch.float32 and rate == RATE


# upstream: test_multiple_warnings
def test_load_warns_about_every_ignored_argument(sine):
    with pytest.warns(UserWarning) as caught:
        torchaudio.load_with_torchcodec(sine, normalize=False, buffer_size=8192, backend="ffmpeg")
    messages = [str(warning.message) for warning in caught]
    for word in ("normalize=False", "buffer_size", "backend"):
        assert any(word in message for message in messages), messages


# upstream: test_invalid_file
def test_invalid_file():
    with pytest.raises(RuntimeError, match="Failed to create AudioDecoder"):
        torchaudio.load_with_torchcodec("/nonexistent/file.wav")


# upstream: test_save_basic_save
@pytest.mark.parametrize("name", sorted(WAV_FILES))
def test_save_and_save_with_torchcodec_agree(wavs, name, tmp_path):
    waveform, rate = torchaudio.load(wavs[name])
    torchaudio.save(tmp_path / "ta.wav", waveform, rate)
    torchaudio.save_with_torchcodec(tmp_path / "tc.wav", waveform, rate)
    (back, back_rate), (direct, direct_rate) = torchaudio.load(tmp_path / "ta.wav"), torchaudio.load(tmp_path / "tc.wav")
    assert back_rate == direct_rate == rate and back.shape == direct.shape == waveform.shape
    assert back.dtype == direct.dtype == torch.float32
    torch.testing.assert_close(back, direct, atol=1e-3, rtol=1e-3)


# upstream: test_save_channels_first
@pytest.mark.parametrize("channels_first", [True, False])
def test_save_channels_first(tmp_path, channels_first):
    waveform = torch.rand(2, RATE) if channels_first else torch.rand(RATE, 2)
    torchaudio.save(tmp_path / "ta.wav", waveform, RATE, channels_first=channels_first)
    torchaudio.save_with_torchcodec(tmp_path / "tc.wav", waveform, RATE, channels_first=channels_first)
    back, direct = torchaudio.load(tmp_path / "ta.wav")[0], torchaudio.load(tmp_path / "tc.wav")[0]
    assert back.shape == direct.shape == (2, RATE)
    torch.testing.assert_close(back, direct, atol=1e-3, rtol=1e-3)


# upstream: test_save_compression_parameter
def test_save_compression_is_a_bit_rate_and_harmless_for_wav(tmp_path):
    torchaudio.save_with_torchcodec(tmp_path / "out.wav", torch.randn(1, RATE), RATE, compression=128000)
    waveform, rate = torchaudio.load(tmp_path / "out.wav")
    assert rate == RATE and waveform.shape[0] == 1


# upstream: test_save_format_parameter_warning, test_save_encoding_parameter_warning,
# test_save_bits_per_sample_parameter_warning, test_save_buffer_size_parameter_warning,
# test_save_backend_parameter_warning
@pytest.mark.parametrize("argument, match", [({"format": "wav"}, "format.*not used"),
                                             ({"encoding": "PCM_16"}, "encoding.*not fully supported"),
                                             ({"bits_per_sample": 16}, "bits_per_sample.*not directly supported"),
                                             ({"buffer_size": 8192}, "buffer_size.*not used"),
                                             ({"backend": "ffmpeg"}, "backend.*not used")])
def test_save_warns_about_each_ignored_argument_and_still_writes(tmp_path, argument, match):
    with pytest.warns(UserWarning, match=match):
        torchaudio.save_with_torchcodec(tmp_path / "out.wav", torch.randn(1, RATE), RATE, **argument)
    assert (tmp_path / "out.wav").exists()


# upstream: test_save_multiple_warnings
def test_save_warns_about_every_ignored_argument_and_still_writes(tmp_path):
    with pytest.warns(UserWarning) as caught:
        torchaudio.save_with_torchcodec(tmp_path / "out.wav", torch.randn(1, RATE), RATE, format="wav",
                                        encoding="PCM_16", bits_per_sample=16, buffer_size=8192, backend="ffmpeg")
    messages = [str(warning.message) for warning in caught]
    for word in ("format", "encoding", "bits_per_sample", "buffer_size", "backend"):
        assert any(word in message for message in messages), messages
    assert (tmp_path / "out.wav").exists()


# upstream: test_save_edge_cases
def test_save_tiny_waveforms_and_other_sample_rates(tmp_path):
    torchaudio.save_with_torchcodec(tmp_path / "tiny.wav", torch.randn(1, 10), RATE)
    assert torchaudio.load(tmp_path / "tiny.wav")[1] == RATE
    for rate in (8000, 22050, 44100):
        torchaudio.save_with_torchcodec(tmp_path / f"at {rate}.wav", torch.randn(1, RATE), rate)
        assert torchaudio.load(tmp_path / f"at {rate}.wav")[1] == rate


# upstream: test_save_invalid_inputs
@pytest.mark.parametrize("src, rate, match", [(torch.randn(1, RATE), -1, "sample_rate must be positive"),
                                              (torch.randn(1, 2, RATE), RATE, "Expected 1D or 2D tensor"),
                                              ([1, 2, 3], RATE, "Expected src to be a torch.Tensor")])
def test_save_invalid_inputs(tmp_path, src, rate, match):
    with pytest.raises(ValueError, match=match):
        torchaudio.save_with_torchcodec(tmp_path / "out.wav", src, rate)


# upstream: test_save_different_formats
@pytest.mark.parametrize("extension", ["wav", "mp3", "flac"])
def test_save_different_formats(tmp_path, extension):
    path = tmp_path / f"out.{extension}"
    torchaudio.save_with_torchcodec(path, torch.randn(1, RATE), RATE)
    assert path.exists() and torchaudio.load(path)[1] == RATE
