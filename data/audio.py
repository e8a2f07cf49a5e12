"""Decodes audio files into the 16 kHz mono float32 waveform YAMNet expects.

Decoding goes through libsndfile (via `soundfile`) so every WAV flavour ESC-50
or a user might hand us (8/16/24/32-bit int, 32/64-bit float, any channel
count, any sample rate) is accepted. Files that cannot be used raise
`AudioDecodeError` with a short reason, so the pipeline can report *which*
clip is broken and why instead of failing deep inside TensorFlow.
"""

import io
import math

import numpy as np
import soundfile

# YAMNet's input rate: every clip is decoded to it.
TARGET_SAMPLE_RATE = 16000


class AudioDecodeError(ValueError):
  """Audio bytes that cannot be turned into a usable waveform."""


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
  """Decodes audio bytes to float32 samples [frames, channels] in [-1, 1].

  Returns the samples and their sample rate. Raises AudioDecodeError rather
  than returning silence, because an empty or NaN clip would silently poison
  the embeddings it feeds.
  """
  if not data:
    raise AudioDecodeError('empty file')
  try:
    samples, sample_rate = soundfile.read(
        io.BytesIO(data), dtype='float32', always_2d=True)
  except RuntimeError as e:  # soundfile.LibsndfileError subclasses it.
    # error_string is libsndfile's message without the BytesIO repr.
    reason = getattr(e, 'error_string', str(e))
    raise AudioDecodeError(f'not a readable audio file: {reason}') from e
  if samples.shape[0] == 0:
    raise AudioDecodeError('no samples')
  if not np.all(np.isfinite(samples)):
    raise AudioDecodeError('contains NaN or Inf samples')
  return samples, sample_rate


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
  """Down-mixes to mono and resamples to 16 kHz, returning float32 in [-1, 1].

  `samples` is [frames, channels] or 1-D mono. Resampling is band-limited
  polyphase filtering so content above 8 kHz is removed instead of aliasing
  into the band YAMNet listens to.
  """
  if sample_rate <= 0:
    raise ValueError(f'sample_rate must be positive, got {sample_rate}')
  samples = np.asarray(samples, dtype=np.float32)
  mono = samples if samples.ndim == 1 else samples.mean(axis=1)
  if sample_rate != TARGET_SAMPLE_RATE:
    # Imported here: scipy.signal takes seconds to import, and the command
    # line's start-up imports this module for its sample rate.
    from scipy import signal  # pylint: disable=g-import-not-at-top
    divisor = math.gcd(TARGET_SAMPLE_RATE, sample_rate)
    mono = signal.resample_poly(
        mono, TARGET_SAMPLE_RATE // divisor, sample_rate // divisor)
  # The resampling filter can overshoot slightly on full-scale transients.
  return np.clip(mono, -1.0, 1.0).astype(np.float32)


def read_audio(path: str) -> tuple[np.ndarray, int]:
  """Reads and decodes an audio file (local or gs://): (samples, rate)."""
  # Imported here so decoding helpers stay usable without loading TensorFlow.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()
  except tf.errors.NotFoundError as e:
    raise AudioDecodeError(f'file not found: {path}') from e
  return decode_audio(data)


def read_waveform(path: str) -> np.ndarray:
  """Reads an audio file (local or gs://) as a 16 kHz mono float32 waveform."""
  return to_mono_16k(*read_audio(path))


def encode_wav(waveform: np.ndarray, sample_rate: int,
               subtype: str = 'PCM_16') -> bytes:
  """Encodes a waveform ([frames] or [frames, channels]) as WAV bytes."""
  buffer = io.BytesIO()
  soundfile.write(buffer, waveform, sample_rate, subtype=subtype, format='WAV')
  return buffer.getvalue()
