"""WAV decoding and resampling in TensorFlow ops, for the serving graph.

TF Serving runs only the graph, and `tf.audio.decode_wav` reads nothing but
16-bit PCM. So the RIFF/WAVE parser and the resampler live here, and the
resampler computes what `scipy.signal.resample_poly` computes, because
training audio went through it (data/audio.py): the model hears served audio
as it heard training audio.

Every problem with the bytes fails the call with InvalidArgument and a message
that names it; nothing is guessed.
"""

from typing import Tuple

import tensorflow as tf

from data import audio

TARGET_SAMPLE_RATE = audio.TARGET_SAMPLE_RATE
# Sample rates whose ratio to 16 kHz reduces to up/down with both at most this
# are accepted: every common rate (8 kHz to 384 kHz, the 11.025 kHz family).
MAX_RESAMPLING_FACTOR = 1024
# scipy.signal.resample_poly's default window, ('kaiser', 5.0).
KAISER_BETA = 5.0
# A real WAV has a handful of chunks; the walk stops after this many.
MAX_CHUNKS = 1024

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_IEEE_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
SUPPORTED_ENCODINGS = ('PCM 8/16/24/32-bit', 'IEEE float 32/64-bit')


def _substr(data: tf.Tensor, pos: tf.Tensor, size, length: tf.Tensor
           ) -> tf.Tensor:
  """Bytes [pos, pos + size) of data, cut short at its end, never failing."""
  pos = tf.clip_by_value(tf.cast(pos, tf.int64), 0, length)
  return tf.strings.substr(data, pos, tf.cast(size, tf.int64))


def _read_uint(data: tf.Tensor, pos: tf.Tensor, size: int,
               length: tf.Tensor) -> tf.Tensor:
  """Little-endian unsigned integer at pos (int64); bytes past the end are 0."""
  raw = tf.io.decode_raw(_substr(data, pos, size, length), tf.uint8)
  raw = tf.pad(tf.cast(raw, tf.int64), [[0, size - tf.size(raw)]])
  return tf.reduce_sum(raw * tf.constant([256**i for i in range(size)],
                                         tf.int64))


def _find_chunks(wav: tf.Tensor, length: tf.Tensor):
  """Walks the RIFF chunks after the header for the 'fmt ' and 'data' chunks.

  Returns:
    (fmt offset, fmt size, data offset, data size); an offset is -1 when the
    chunk is missing. Sizes are cut to the bytes present, since streaming
    writers leave the data size as 0 or 0xFFFFFFFF.
  """
  missing = tf.constant(-1, tf.int64)

  def keep_walking(chunk, offset, fmt_pos, unused_fmt_size, data_pos,
                   unused_data_size):
    return ((chunk < MAX_CHUNKS) & (offset + 8 <= length) &
            ((fmt_pos < 0) | (data_pos < 0)))

  def step(chunk, offset, fmt_pos, fmt_size, data_pos, data_size):
    chunk_id = _substr(wav, offset, 4, length)
    size = _read_uint(wav, offset + 4, 4, length)
    body = offset + 8
    present = tf.minimum(size, length - body)
    is_fmt = tf.equal(chunk_id, 'fmt ') & (fmt_pos < 0)
    is_data = tf.equal(chunk_id, 'data') & (data_pos < 0)
    return (chunk + 1, body + size + size % 2,
            tf.where(is_fmt, body, fmt_pos),
            tf.where(is_fmt, present, fmt_size),
            tf.where(is_data, body, data_pos),
            tf.where(is_data, present, data_size))

  _, _, fmt_pos, fmt_size, data_pos, data_size = tf.while_loop(
      keep_walking, step,
      (tf.constant(0), tf.constant(12, tf.int64), missing,
       tf.constant(0, tf.int64), missing, tf.constant(0, tf.int64)))
  return fmt_pos, fmt_size, data_pos, data_size


def _pcm8(raw: tf.Tensor) -> tf.Tensor:
  """Unsigned 8-bit, scaled as libsndfile does: (x - 128) / 128."""
  return (tf.cast(tf.io.decode_raw(raw, tf.uint8), tf.float32) - 128.0) / 128.0


def _pcm16(raw: tf.Tensor) -> tf.Tensor:
  return tf.cast(tf.io.decode_raw(raw, tf.int16), tf.float32) / 32768.0


def _pcm24(raw: tf.Tensor) -> tf.Tensor:
  """Packed little-endian 24-bit, sign-extended, scaled by 2**-23."""
  b = tf.cast(tf.reshape(tf.io.decode_raw(raw, tf.uint8), [-1, 3]), tf.int32)
  value = b[:, 0] + b[:, 1] * 256 + b[:, 2] * 65536
  value -= tf.where(value >= 1 << 23, 1 << 24, 0)
  return tf.cast(value, tf.float32) / float(1 << 23)


def _pcm32(raw: tf.Tensor) -> tf.Tensor:
  return tf.cast(tf.io.decode_raw(raw, tf.int32), tf.float32) / float(1 << 31)


def _float32(raw: tf.Tensor) -> tf.Tensor:
  return tf.io.decode_raw(raw, tf.float32)


def _float64(raw: tf.Tensor) -> tf.Tensor:
  return tf.cast(tf.io.decode_raw(raw, tf.float64), tf.float32)


# Decoders by branch index; see _branch_index.
_DECODERS = (_pcm8, _pcm16, _pcm24, _pcm32, _float32, _float64)


def _branch_index(encoding: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
  """Index into _DECODERS, or -1 for an unsupported encoding."""
  pcm = tf.equal(encoding, _WAVE_FORMAT_PCM)
  ieee = tf.equal(encoding, _WAVE_FORMAT_IEEE_FLOAT)
  index = tf.where(
      pcm & ((bits == 8) | (bits == 16) | (bits == 24) | (bits == 32)),
      bits // 8 - 1, tf.constant(-1, tf.int64))
  index = tf.where(ieee & (bits == 32), tf.constant(4, tf.int64), index)
  index = tf.where(ieee & (bits == 64), tf.constant(5, tf.int64), index)
  return tf.cast(index, tf.int32)


def _first_problem(problems) -> tf.Tensor:
  """The message of the first (condition, message) pair that holds, or ''."""
  message = tf.constant('')
  for condition, text in reversed(problems):
    message = tf.where(condition, text, message)
  return message


def resampling_factors(sample_rate: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """(up, down): 16 kHz / sample_rate in lowest terms, as resample_poly uses."""
  rate = tf.cast(sample_rate, tf.int64)

  def gcd_step(a, b):
    return b, a % b

  divisor, _ = tf.while_loop(lambda a, b: b > 0, gcd_step,
                             (tf.constant(TARGET_SAMPLE_RATE, tf.int64),
                              tf.maximum(rate, 1)))
  return TARGET_SAMPLE_RATE // divisor, tf.maximum(rate, 1) // divisor


def parse_wav(wav: tf.Tensor, max_seconds: float
             ) -> Tuple[tf.Tensor, tf.Tensor]:
  """Decodes WAV bytes as libsndfile does (what soundfile gave training).

  Accepts PCM 8/16/24/32-bit, IEEE float 32/64-bit, plain or
  WAVE_FORMAT_EXTENSIBLE, any channel count; other chunks are skipped. The
  samples are those the bytes hold, whatever length the header claims.

  Args:
    wav: Scalar string, the bytes of a WAV file.
    max_seconds: Longer audio is refused before any sample is decoded.

  Returns:
    (samples [frames, channels] float32, sample rate int64).

  Raises:
    tf.errors.InvalidArgumentError: The bytes are not a WAV file this parser
      supports, have no samples, an unsupported rate, or NaN/Inf samples.
  """
  length = tf.cast(tf.strings.length(wav), tf.int64)
  is_riff = (tf.equal(_substr(wav, 0, 4, length), 'RIFF') &
             tf.equal(_substr(wav, 8, 4, length), 'WAVE'))
  fmt_pos, fmt_size, data_pos, data_size = tf.cond(
      is_riff, lambda: _find_chunks(wav, length),
      lambda: tuple(tf.constant(v, tf.int64) for v in (-1, 0, -1, 0)))

  encoding = _read_uint(wav, fmt_pos, 2, length)
  channels = _read_uint(wav, fmt_pos + 2, 2, length)
  sample_rate = _read_uint(wav, fmt_pos + 4, 4, length)
  bits = _read_uint(wav, fmt_pos + 14, 2, length)
  # WAVE_FORMAT_EXTENSIBLE keeps the real format code in its sub-format GUID.
  encoding = tf.where(tf.equal(encoding, _WAVE_FORMAT_EXTENSIBLE),
                      _read_uint(wav, fmt_pos + 24, 2, length), encoding)
  branch = _branch_index(encoding, bits)
  frame_bytes = channels * (bits // 8)
  # A header may claim more data than the file holds: count what is there.
  held = tf.minimum(data_size, tf.maximum(length - data_pos, 0))
  frames = held // tf.maximum(frame_bytes, 1)
  seconds = tf.cast(frames, tf.float64) / tf.cast(
      tf.maximum(sample_rate, 1), tf.float64)
  up, down = resampling_factors(sample_rate)

  message = _first_problem([
      (~is_riff, 'not a WAV file: the bytes do not start with a RIFF/WAVE '
       'header'),
      (fmt_pos < 0, 'invalid WAV file: no fmt chunk'),
      (fmt_size < 16, 'invalid WAV file: fmt chunk shorter than 16 bytes'),
      (branch < 0, tf.strings.format(
          'unsupported WAV encoding: format code {} with {} bits per sample '
          f'(supported: {", ".join(SUPPORTED_ENCODINGS)})', (encoding, bits))),
      (channels < 1, 'invalid WAV file: 0 channels'),
      (sample_rate < 1, 'invalid WAV file: sample rate 0'),
      ((up > MAX_RESAMPLING_FACTOR) | (down > MAX_RESAMPLING_FACTOR),
       tf.strings.format(
           'unsupported WAV sample rate {} Hz: its ratio to 16000 Hz, {}/{} '
           'in lowest terms, exceeds {} on either side',
           (sample_rate, up, down, MAX_RESAMPLING_FACTOR))),
      (data_pos < 0, 'invalid WAV file: no data chunk'),
      (frames < 1, 'WAV file has no samples'),
      (seconds > max_seconds, tf.strings.format(
          'audio is {} s long; this model accepts at most '
          f'{max_seconds:g} s (max_audio_seconds)', seconds)),
  ])
  check = tf.debugging.Assert(tf.equal(message, ''), [message])
  with tf.control_dependencies([check]):
    raw = tf.strings.substr(wav, tf.maximum(data_pos, 0),
                            frames * frame_bytes)
    samples = tf.switch_case(
        tf.maximum(branch, 0), [lambda f=f: f(raw) for f in _DECODERS])
    samples = tf.debugging.check_numerics(
        samples, 'WAV file has NaN or Inf samples')
    # Downstream work sized by the rate waits for the checks too.
    return tf.reshape(samples, [-1, channels]), tf.identity(sample_rate)


def _kaiser_lowpass(up: tf.Tensor, down: tf.Tensor) -> tf.Tensor:
  """resample_poly's filter: firwin(20 * max + 1, 1 / max, kaiser 5) * up.

  Designed in float64 and rounded to float32, as scipy does for float32 audio.
  """
  max_rate = tf.maximum(up, down)
  half_len = 10 * max_rate
  cutoff = 1.0 / tf.cast(max_rate, tf.float64)
  m = tf.cast(tf.range(-half_len, half_len + 1), tf.float64)
  x = cutoff * m
  safe_x = tf.where(tf.equal(x, 0.0), tf.ones_like(x), x)
  sinc = tf.where(tf.equal(x, 0.0), tf.ones_like(x),
                  tf.sin(3.141592653589793 * safe_x) /
                  (3.141592653589793 * safe_x))
  ratio = m / tf.cast(half_len, tf.float64)
  window = (tf.math.special.bessel_i0(
      KAISER_BETA * tf.sqrt(tf.maximum(1.0 - ratio * ratio, 0.0))) /
            tf.math.special.bessel_i0(tf.constant(KAISER_BETA, tf.float64)))
  h = cutoff * sinc * window
  h /= tf.reduce_sum(h)
  return tf.cast(h, tf.float32) * tf.cast(up, tf.float32)


def resample_poly(x: tf.Tensor, up: tf.Tensor, down: tf.Tensor) -> tf.Tensor:
  """`scipy.signal.resample_poly(x, up, down)` for coprime up, down and 1-D x.

  Output k is sum_i x[i] h[half_len + k * down - i * up]. Outputs are computed
  up at a time: output q * up + r reads inputs from q * down on, so with the
  input cut into rows of `down` samples, all phases r are one stride-1
  convolution over the rows, whose kernel holds the filter's polyphase
  components. Work is about (filter taps per phase + down) per output and
  memory stays linear in the clip, so a 10-minute clip is fine.

  Args:
    x: float32 [n] samples.
    up: int64 scalar, the upsampling factor.
    down: int64 scalar, the downsampling factor, coprime with up.

  Returns:
    float32 [ceil(n * up / down)] samples.
  """
  n_in = tf.size(x, out_type=tf.int64)
  n_out = (n_in * up + down - 1) // down
  h = _kaiser_lowpass(up, down)
  half_len = 10 * tf.maximum(up, down)
  m_lo = -(half_len // up)
  width = ((up - 1) * down + half_len) // up - m_lo + 1
  # kernel[j, r] = h[half_len + r * down - (j + m_lo) * up] where in range.
  index = (half_len + tf.range(up)[tf.newaxis, :] * down -
           (tf.range(width)[:, tf.newaxis] + m_lo) * up)
  in_range = (index >= 0) & (index <= 2 * half_len)
  kernel = tf.where(in_range, tf.gather(h, tf.clip_by_value(
      index, 0, 2 * half_len)), 0.0)
  rows = (width + down - 1) // down
  kernel = tf.reshape(tf.pad(kernel, [[0, rows * down - width], [0, 0]]),
                      [rows, down, up])
  blocks = (n_out + up - 1) // up
  total = (blocks + rows - 1) * down
  padded = tf.pad(x, [[-m_lo, tf.maximum(total - n_in + m_lo, 0)]])[:total]
  y = tf.nn.conv1d(tf.reshape(padded, [1, -1, down]), kernel, stride=1,
                   padding='VALID')
  return tf.reshape(y, [-1])[:n_out]


def to_mono_16k(samples: tf.Tensor, sample_rate: tf.Tensor) -> tf.Tensor:
  """data.audio.to_mono_16k in ops: channel mean, resample_poly, clip."""
  mono = tf.reduce_mean(samples, axis=1)
  up, down = resampling_factors(sample_rate)
  mono = tf.cond(tf.equal(up, down), lambda: mono,
                 lambda: resample_poly(mono, up, down))
  return tf.clip_by_value(mono, -1.0, 1.0)
