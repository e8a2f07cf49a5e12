"""The in-graph WAV decoder and resampler equal data.audio's decode.

data.audio (libsndfile + scipy.signal.resample_poly) made the training audio;
serving must hear WAV files the same way, so every comparison is against it.
"""

import io
import math
import struct

import numpy as np
import pytest
from scipy import signal
import soundfile
import tensorflow as tf

from data import audio
from serving import resampling
from serving import wav_ops

# float32 rounding differs in summation order only.
TOLERANCE = 1e-6
MAX_SECONDS = 60.0


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def _decode(wav):
  samples, rate = wav_ops.parse_wav(wav, MAX_SECONDS)
  return resampling.to_mono_16k(samples, rate), rate, tf.shape(samples)[1]


def _signal(rate: int, seconds: float, channels: int) -> np.ndarray:
  """Tones above and below 8 kHz plus noise, so filtering matters."""
  rng = np.random.default_rng(rate + channels)
  t = np.arange(int(rate * seconds)) / rate
  mono = (0.4 * np.sin(2 * np.pi * 440 * t) +
          0.2 * np.sin(2 * np.pi * min(9000, rate * 0.45) * t))
  x = mono[:, None] + 0.1 * rng.standard_normal((t.size, channels))
  return np.clip(x, -1, 1).astype(np.float32)


def _training_decode(wav: bytes) -> np.ndarray:
  return audio.to_mono_16k(*audio.decode_audio(wav))


@pytest.mark.parametrize('subtype', ['PCM_U8', 'PCM_16', 'PCM_24', 'PCM_32',
                                     'FLOAT', 'DOUBLE'])
@pytest.mark.parametrize('rate,channels', [(44100, 2), (16000, 1),
                                           (48000, 1), (8000, 3),
                                           (22050, 1), (11025, 2)])
def test_decodes_every_encoding_rate_and_layout_as_training_did(
    subtype, rate, channels):
  wav = audio.encode_wav(_signal(rate, 1.1, channels), rate, subtype)
  waveform, decoded_rate, decoded_channels = _decode(tf.constant(wav))
  expected = _training_decode(wav)
  assert int(decoded_rate) == rate and int(decoded_channels) == channels
  assert waveform.shape == expected.shape
  np.testing.assert_allclose(waveform.numpy(), expected, rtol=0,
                             atol=TOLERANCE)


@pytest.mark.parametrize('subtype', ['PCM_16', 'PCM_24', 'FLOAT'])
def test_decodes_wave_format_extensible(subtype):
  buffer = io.BytesIO()
  soundfile.write(buffer, _signal(32000, 0.5, 2), 32000, subtype=subtype,
                  format='WAVEX')
  wav = buffer.getvalue()
  assert struct.unpack('<H', wav[20:22])[0] == 0xFFFE
  np.testing.assert_allclose(_decode(tf.constant(wav))[0].numpy(),
                             _training_decode(wav), rtol=0, atol=TOLERANCE)


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
  return chunk_id + struct.pack('<I', len(body)) + body + b'\0' * (
      len(body) % 2)


def test_walks_past_other_chunks_in_any_order():
  """An odd-sized LIST chunk (padded), data before fmt, trailing junk."""
  samples = (np.arange(-50, 50) * 300).astype('<i2')
  fmt = struct.pack('<HHIIHH', 1, 1, 16000, 32000, 2, 16)
  body = (b'WAVE' + _chunk(b'LIST', b'INFOabc') +
          _chunk(b'data', samples.tobytes()) + _chunk(b'fmt ', fmt))
  wav = b'RIFF' + struct.pack('<I', len(body)) + body
  np.testing.assert_array_equal(_decode(tf.constant(wav))[0].numpy(),
                                samples / 32768.0)


def test_data_size_past_the_end_reads_what_is_there():
  """Streaming writers leave the data size unset (0xFFFFFFFF)."""
  wav = bytearray(audio.encode_wav(_signal(16000, 0.1, 1), 16000))
  data_at = wav.index(b'data')
  wav[data_at + 4:data_at + 8] = struct.pack('<I', 0xFFFFFFFF)
  np.testing.assert_allclose(_decode(tf.constant(bytes(wav)))[0].numpy(),
                             _training_decode(bytes(wav)), atol=TOLERANCE)


@pytest.mark.parametrize('wav,message', [
    (b'', 'not a WAV file'),
    (b'ID3\x04\x00 an mp3, not a wav', 'not a WAV file'),
    (b'RIFF\x04\x00\x00\x00WAVE', 'no fmt chunk'),
    (audio.encode_wav(np.zeros(10, np.float32), 16000)[:36], 'no data chunk'),
    (audio.encode_wav(np.zeros(0, np.float32), 16000), 'has no samples'),
    (audio.encode_wav(np.zeros(10, np.float32), 16000, 'ALAW'),
     'unsupported WAV encoding: format code 6'),
    (audio.encode_wav(np.zeros(10, np.float32), 7999),
     'unsupported WAV sample rate 7999 Hz'),
    (audio.encode_wav(np.array([0.0, np.nan], np.float32), 16000, 'FLOAT'),
     'NaN or Inf'),
    (audio.encode_wav(np.array([np.inf, 0.0]), 16000, 'DOUBLE'),
     'NaN or Inf'),
])
def test_bad_bytes_fail_with_a_message_naming_the_problem(wav, message):
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    _decode(tf.constant(wav))


@pytest.mark.parametrize('up,down', [(2, 1), (1, 3), (160, 441), (640, 441),
                                     (4, 3), (1, 12), (3, 7)])
@pytest.mark.parametrize('length', [1, 5, 1000, 44101])
def test_resample_poly_equals_scipy(up, down, length):
  x = np.random.default_rng(length).uniform(-1, 1, length).astype(np.float32)
  got = resampling.resample_poly(tf.constant(x), tf.constant(up, tf.int64),
                                 tf.constant(down, tf.int64)).numpy()
  expected = signal.resample_poly(x, up, down)
  assert got.shape == expected.shape == (math.ceil(length * up / down),)
  np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_audio_longer_than_the_maximum_is_refused_before_decoding():
  wav = audio.encode_wav(np.zeros((16000 * 61, 1), np.float32), 16000)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'61 s long; this model accepts at most 60 s'):
    _decode(tf.constant(wav))


def test_a_header_claiming_more_data_than_the_bytes_hold_decodes_what_is_there():
  """A 1 s file whose data chunk claims 10 hours: the 1 s it holds is
  decoded, and no allocation follows the header's claim."""
  wav = bytearray(audio.encode_wav(np.full((16000, 1), 0.25, np.float32),
                                   16000))
  data = wav.index(b'data')
  wav[data + 4:data + 8] = (16000 * 2 * 36000).to_bytes(4, 'little')
  waveform, rate, channels = _decode(tf.constant(bytes(wav)))
  assert int(rate) == 16000 and int(channels) == 1
  assert waveform.shape == (16000,)
  np.testing.assert_allclose(waveform.numpy(), 0.25, atol=1e-4)


@tf.function(input_signature=[tf.TensorSpec([], tf.string),
                              tf.TensorSpec([], tf.int64),
                              tf.TensorSpec([], tf.int64)])
def _read_range(wav, start, size):
  length, read = wav_ops.mono_16k_reader(wav_ops.read_header(wav, MAX_SECONDS))
  return length, read(start, size)


@pytest.mark.parametrize('rate,channels,subtype', [
    (16000, 1, 'PCM_16'), (44100, 2, 'PCM_16'), (48000, 3, 'PCM_24'),
    (8000, 1, 'PCM_U8'), (11025, 2, 'DOUBLE'),
    (7040, 1, 'FLOAT'),  # 50/22: ranges start inside a polyphase row
])
def test_reading_ranges_equals_decoding_the_whole_file(rate, channels,
                                                        subtype):
  """serving_wav decodes a block at a time: a range read anywhere, across
  the resampling filter's reach and the file's ends, is the whole file's."""
  wav = tf.constant(audio.encode_wav(_signal(rate, 2.3, channels), rate,
                                     subtype))
  whole = _decode(wav)[0].numpy()
  for start, size in [(0, 7), (1, 5000), (4999, 16000), (12345, 100000),
                      (whole.size - 3, 50), (0, whole.size)]:
    length, got = _read_range(wav, start, size)
    assert int(length) == whole.size
    np.testing.assert_allclose(got.numpy(), whole[start:start + size],
                               rtol=0, atol=TOLERANCE)
