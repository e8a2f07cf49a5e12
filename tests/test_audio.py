"""Tests for data/audio.py: decoding, down-mixing and resampling to 16 kHz."""

import numpy as np
import pytest
from scipy import signal

from data import audio


def _sine(frequency: float, sample_rate: int, seconds: float,
          amplitude: float = 0.5) -> np.ndarray:
  t = np.arange(int(round(sample_rate * seconds))) / sample_rate
  return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _expected_16k_length(frames: int, sample_rate: int) -> int:
  return int(round(frames * audio.TARGET_SAMPLE_RATE / sample_rate))


def _decode_to_16k(data: bytes) -> np.ndarray:
  samples, sample_rate = audio.decode_audio(data)
  return audio.to_mono_16k(samples, sample_rate)


def test_44k_sine_resamples_to_16k_length_and_keeps_its_frequency():
  sine = _sine(1000.0, 44100, 1.3)
  waveform = _decode_to_16k(audio.encode_wav(sine, 44100))

  assert waveform.dtype == np.float32
  assert waveform.ndim == 1
  assert len(waveform) == _expected_16k_length(len(sine), 44100)
  spectrum = np.abs(np.fft.rfft(waveform))
  frequencies = np.fft.rfftfreq(len(waveform), d=1 / audio.TARGET_SAMPLE_RATE)
  assert frequencies[np.argmax(spectrum)] == pytest.approx(1000.0, abs=2.0)
  assert np.max(np.abs(waveform)) == pytest.approx(0.5, abs=0.01)


def test_decode_returns_frames_by_channels_and_sample_rate():
  stereo = np.stack([_sine(440, 22050, 0.1), _sine(880, 22050, 0.1)], axis=1)
  samples, sample_rate = audio.decode_audio(
      audio.encode_wav(stereo, 22050, subtype='FLOAT'))

  assert sample_rate == 22050
  assert samples.shape == (2205, 2)
  np.testing.assert_array_equal(samples, stereo)


def test_stereo_with_opposite_channels_downmixes_to_silence():
  x = _sine(440, 16000, 0.5)
  waveform = _decode_to_16k(
      audio.encode_wav(np.stack([x, -x], axis=1), 16000, subtype='FLOAT'))

  assert len(waveform) == len(x)
  np.testing.assert_allclose(waveform, 0.0, atol=1e-7)


def test_stereo_with_identical_channels_downmixes_to_the_channel():
  x = _sine(440, 16000, 0.5)
  waveform = _decode_to_16k(
      audio.encode_wav(np.stack([x, x], axis=1), 16000, subtype='FLOAT'))

  np.testing.assert_allclose(waveform, x, atol=1e-7)


def test_multichannel_downmix_is_the_channel_mean():
  channels = np.stack(
      [_sine(300, 16000, 0.2, amplitude=a) for a in (0.1, 0.2, 0.6)], axis=1)
  waveform = audio.to_mono_16k(channels, 16000)

  np.testing.assert_allclose(waveform, channels.mean(axis=1), atol=1e-7)


@pytest.mark.parametrize('subtype, tolerance', [
    ('PCM_U8', 1e-2),
    ('PCM_16', 1e-4),
    ('PCM_24', 1e-6),
    ('PCM_32', 1e-6),
    ('FLOAT', 1e-7),
    ('DOUBLE', 1e-7),
])
def test_sample_formats_decode_to_the_same_waveform(subtype, tolerance):
  sine = _sine(500, 16000, 0.25)
  waveform = _decode_to_16k(audio.encode_wav(sine, 16000, subtype=subtype))

  np.testing.assert_allclose(waveform, sine, atol=tolerance)


@pytest.mark.parametrize('sample_rate', [8000, 11025, 22050, 32000, 44100,
                                         48000])
def test_sample_rates_resample_to_the_16k_length(sample_rate):
  sine = _sine(300, sample_rate, 0.77)
  waveform = _decode_to_16k(audio.encode_wav(sine, sample_rate))

  assert len(waveform) == _expected_16k_length(len(sine), sample_rate)


def test_resampling_is_scipy_polyphase_with_reduced_ratio():
  rng = np.random.default_rng(0)
  x = rng.uniform(-0.5, 0.5, size=44100).astype(np.float32)

  np.testing.assert_allclose(
      audio.to_mono_16k(x, 44100), signal.resample_poly(x, 160, 441),
      atol=1e-6)


def test_resampling_removes_content_above_8k_instead_of_aliasing():
  # A 12 kHz tone at 44.1 kHz would alias to 4 kHz without low-pass filtering.
  waveform = audio.to_mono_16k(_sine(12000, 44100, 1.0), 44100)

  assert np.max(np.abs(waveform[1000:-1000])) < 1e-3


def test_output_is_clipped_to_unit_range():
  square = np.sign(_sine(100, 44100, 0.5, amplitude=1.0))
  waveform = audio.to_mono_16k(square, 44100)

  # Without clipping, the resampling filter's Gibbs overshoot exceeds 1.
  assert np.max(np.abs(signal.resample_poly(square, 160, 441))) > 1.0
  assert np.max(np.abs(waveform)) == 1.0


_WAV = audio.encode_wav(np.zeros(1000, np.float32), 16000)


@pytest.mark.parametrize('data, reason', [
    (b'', 'empty file'),
    (np.random.default_rng(0).bytes(2048), 'not a readable audio file'),
    (_WAV[:20], 'not a readable audio file'),  # Cut inside the fmt chunk.
])
def test_unusable_bytes_raise_with_reason(data, reason):
  with pytest.raises(audio.AudioDecodeError, match=reason):
    audio.decode_audio(data)


def test_unreadable_reason_carries_libsndfile_message_without_buffer_repr():
  with pytest.raises(audio.AudioDecodeError) as raised:
    audio.decode_audio(b'definitely not a sound file' * 10)

  assert 'Format not recognised' in str(raised.value)
  assert 'BytesIO' not in str(raised.value)


def test_header_only_wav_raises_no_samples():
  header_only = audio.encode_wav(np.zeros(0, np.float32), 16000)

  with pytest.raises(audio.AudioDecodeError, match='no samples'):
    audio.decode_audio(header_only)


@pytest.mark.parametrize('bad_value', [np.nan, np.inf])
def test_non_finite_float_samples_raise(bad_value):
  samples = _sine(440, 16000, 0.1)
  samples[100] = bad_value

  with pytest.raises(audio.AudioDecodeError, match='NaN or Inf'):
    audio.decode_audio(audio.encode_wav(samples, 16000, subtype='FLOAT'))


def test_read_waveform_reads_a_file(tmp_path):
  path = tmp_path / 'clip.wav'
  sine = _sine(1000, 48000, 0.5)
  path.write_bytes(audio.encode_wav(sine, 48000))

  waveform = audio.read_waveform(str(path))

  assert len(waveform) == 8000
  np.testing.assert_allclose(
      waveform, _decode_to_16k(path.read_bytes()), atol=0)


def test_read_waveform_reports_a_missing_file(tmp_path):
  missing = str(tmp_path / 'missing.wav')

  with pytest.raises(audio.AudioDecodeError, match='file not found: .*missing'):
    audio.read_waveform(missing)
