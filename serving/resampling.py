"""Channel mean and sample-rate conversion to 16 kHz in TensorFlow ops.

Training audio went through data/audio.py's to_mono_16k: channel mean,
`scipy.signal.resample_poly` to 16 kHz, clip to [-1, 1]. The serving graph
must turn served audio into the same waveform, so this module computes what
scipy computes (same Kaiser-windowed filter, same output length), in ops TF
Serving can run: `resample_poly` equals scipy's and `to_mono_16k` equals
data.audio's, up to float32 summation order (tests/test_wav_ops.py holds both
within 1e-6).

It can also produce that waveform a range at a time (`mono_16k_ranges`),
reading only the input frames the range depends on, so a long input is never
held whole; a range equals the same samples of `to_mono_16k` on the whole
input. Where the frames come from (WAV bytes: serving/wav_ops.py) is the
caller's business.
"""

from typing import Callable, NamedTuple, Tuple

import tensorflow as tf

from data import audio

TARGET_SAMPLE_RATE = audio.TARGET_SAMPLE_RATE
# Sample rates whose ratio to 16 kHz reduces to up/down with both at most this
# are accepted: every common rate (8 kHz to 384 kHz, the 11.025 kHz family).
MAX_RESAMPLING_FACTOR = 1024
# scipy.signal.resample_poly's default window, ('kaiser', 5.0).
KAISER_BETA = 5.0


def resampling_factors(sample_rate: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """(up, down): 16 kHz / sample_rate in lowest terms, as resample_poly uses."""
  rate = tf.cast(sample_rate, tf.int64)

  def gcd_step(a, b):
    return b, a % b

  divisor, _ = tf.while_loop(lambda a, b: b > 0, gcd_step,
                             (tf.constant(TARGET_SAMPLE_RATE, tf.int64),
                              tf.maximum(rate, 1)))
  return TARGET_SAMPLE_RATE // divisor, tf.maximum(rate, 1) // divisor


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


class _Polyphase(NamedTuple):
  """resample_poly's filter cut into polyphase components (see
  _resample_range)."""
  up: tf.Tensor
  down: tf.Tensor
  kernel: tf.Tensor  # [rows, down, up] float32
  m_lo: tf.Tensor  # int64 <= 0: output 0 reads inputs from m_lo on
  rows: tf.Tensor  # int64


def _polyphase(up: tf.Tensor, down: tf.Tensor) -> _Polyphase:
  """The filter of resample_poly(up, down) as a convolution kernel over rows
  of `down` input samples, giving `up` outputs a row. Built once per call,
  shared by every block."""
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
  return _Polyphase(up, down, kernel, m_lo, rows)


def _resample_range(read: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
                    n_in: tf.Tensor, poly: _Polyphase, start: tf.Tensor,
                    end: tf.Tensor) -> tf.Tensor:
  """Outputs [start, end) of resample_poly over an input of n_in samples,
  reading only the inputs they depend on.

  Output k is sum_i x[i] h[half_len + k * down - i * up]. Outputs are computed
  up at a time: output row q (outputs q * up .. q * up + up - 1) reads inputs
  q * down + m_lo .. (q + rows) * down + m_lo - 1, so with the input cut into
  rows of `down` samples, all phases are one stride-1 convolution over the
  rows. Work is about (filter taps per phase + down) per output.

  Args:
    read: read(first, count) -> input samples [first, first + count).
    n_in: int64, the input's length.
    poly: The filter, from _polyphase.
    start, end: int64, the outputs wanted, 0 <= start < end <= n_out.
  """
  up, down = poly.up, poly.down
  row_start = start // up
  row_end = (end + up - 1) // up
  # Inputs of rows [row_start, row_end); those outside the input are zeros.
  first = row_start * down + poly.m_lo
  last = (row_end + poly.rows - 1) * down + poly.m_lo
  lo = tf.clip_by_value(first, 0, n_in)
  hi = tf.clip_by_value(last, lo, n_in)
  x = tf.pad(read(lo, hi - lo), [[lo - first, last - hi]])
  y = tf.nn.conv1d(tf.reshape(x, [1, -1, down]), poly.kernel, stride=1,
                   padding='VALID')
  return tf.reshape(y, [-1])[start - row_start * up:end - row_start * up]


def _resampled_length(n_in: tf.Tensor, up: tf.Tensor, down: tf.Tensor
                     ) -> tf.Tensor:
  return (n_in * up + down - 1) // down


def resample_poly(x: tf.Tensor, up: tf.Tensor, down: tf.Tensor) -> tf.Tensor:
  """`scipy.signal.resample_poly(x, up, down)` for coprime up, down and 1-D x.

  Args:
    x: float32 [n] samples.
    up: int64 scalar, the upsampling factor.
    down: int64 scalar, the downsampling factor, coprime with up.

  Returns:
    float32 [ceil(n * up / down)] samples.
  """
  n_in = tf.size(x, out_type=tf.int64)
  return _resample_range(lambda first, count: x[first:first + count], n_in,
                         _polyphase(up, down), tf.constant(0, tf.int64),
                         _resampled_length(n_in, up, down))


def to_mono_16k(samples: tf.Tensor, sample_rate: tf.Tensor) -> tf.Tensor:
  """data.audio.to_mono_16k in ops: channel mean, resample_poly, clip."""
  mono = tf.reduce_mean(samples, axis=1)
  up, down = resampling_factors(sample_rate)
  mono = tf.cond(tf.equal(up, down), lambda: mono,
                 lambda: resample_poly(mono, up, down))
  return tf.clip_by_value(mono, -1.0, 1.0)


def mono_16k_ranges(read_frames: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
                    frames: tf.Tensor, sample_rate: tf.Tensor
                   ) -> Tuple[tf.Tensor, Callable[[tf.Tensor, tf.Tensor],
                                                  tf.Tensor]]:
  """to_mono_16k of an input of `frames` frames, read a range at a time.

  Args:
    read_frames: read_frames(first, count) -> float32 [count, channels], the
      input's frames [first, first + count).
    frames: int64, the input's length in frames.
    sample_rate: The input's sample rate.

  Returns:
    (length int64, read): read(start, size) -> float32 samples
    [start, start + size) of the 16 kHz waveform, fewer where it ends; it
    reads only the frames those samples depend on (plus the resampling
    filter's reach), so no step holds the whole input.
  """
  up, down = resampling_factors(sample_rate)
  poly = _polyphase(up, down)
  length = _resampled_length(frames, up, down)

  def mono(first, count):
    return tf.reduce_mean(read_frames(first, count), axis=1)

  def read(start, size):
    start = tf.cast(start, tf.int64)
    end = tf.minimum(start + tf.cast(size, tf.int64), length)
    waveform = tf.cond(
        tf.equal(up, down), lambda: mono(start, end - start),
        lambda: _resample_range(mono, frames, poly, start, end))
    return tf.clip_by_value(waveform, -1.0, 1.0)

  return length, read
