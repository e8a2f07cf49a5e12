"""WAV decoding in TensorFlow ops, for the serving graph.

TF Serving runs only the graph, and `tf.audio.decode_wav` reads nothing but
16-bit PCM. So the RIFF/WAVE parser lives here, and decodes samples as
libsndfile does, because training audio was read with it (data/audio.py): the
model hears served audio as it heard training audio. Turning the samples into
the 16 kHz mono waveform is serving/resampling.py's.

Every problem with the bytes fails the call with InvalidArgument and a message
that names it; nothing is guessed.

A WAV's samples can be read a range at a time (`mono_16k_reader`), decoded
and resampled from the bytes of that range only, so classifying a long file
never holds its whole decoded waveform; the result equals the whole-file
decoding (`parse_wav`, then resampling.to_mono_16k) sample for sample.
"""

from typing import Callable, NamedTuple, Tuple

import tensorflow as tf

from serving import resampling

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


def _read_fmt(wav: tf.Tensor, fmt_pos: tf.Tensor, length: tf.Tensor
             ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
  """(format code, channels, sample rate, bits per sample) of the fmt chunk;
  WAVE_FORMAT_EXTENSIBLE keeps the real format code in its sub-format GUID."""
  encoding = _read_uint(wav, fmt_pos, 2, length)
  encoding = tf.where(tf.equal(encoding, _WAVE_FORMAT_EXTENSIBLE),
                      _read_uint(wav, fmt_pos + 24, 2, length), encoding)
  return (encoding, _read_uint(wav, fmt_pos + 2, 2, length),
          _read_uint(wav, fmt_pos + 4, 4, length),
          _read_uint(wav, fmt_pos + 14, 2, length))


class WavData(NamedTuple):
  """Where a checked WAV file's samples are and how to decode them.

  Every field but `wav` is computed after the header's checks, so any work
  that uses them waits for the checks to pass.
  """
  wav: tf.Tensor  # the bytes, scalar string
  data_pos: tf.Tensor  # int64 offset of the first sample's bytes
  frames: tf.Tensor  # int64 frames the bytes hold
  channels: tf.Tensor  # int64
  frame_bytes: tf.Tensor  # int64
  branch: tf.Tensor  # int32 index into _DECODERS
  sample_rate: tf.Tensor  # int64


def read_header(wav: tf.Tensor, max_seconds: float) -> WavData:
  """Parses and checks a WAV file's header, decoding no sample.

  Accepts PCM 8/16/24/32-bit, IEEE float 32/64-bit, plain or
  WAVE_FORMAT_EXTENSIBLE, any channel count; other chunks are skipped. The
  frames are those the bytes hold, whatever length the header claims.

  Args:
    wav: Scalar string, the bytes of a WAV file.
    max_seconds: Longer audio is refused here, before any sample is decoded.

  Raises:
    tf.errors.InvalidArgumentError: The bytes are not a WAV file this parser
      supports, have no samples, an unsupported rate, or are too long.
  """
  length = tf.cast(tf.strings.length(wav), tf.int64)
  is_riff = (tf.equal(_substr(wav, 0, 4, length), 'RIFF') &
             tf.equal(_substr(wav, 8, 4, length), 'WAVE'))
  fmt_pos, fmt_size, data_pos, data_size = tf.cond(
      is_riff, lambda: _find_chunks(wav, length),
      lambda: tuple(tf.constant(v, tf.int64) for v in (-1, 0, -1, 0)))

  encoding, channels, sample_rate, bits = _read_fmt(wav, fmt_pos, length)
  branch = _branch_index(encoding, bits)
  frame_bytes = channels * (bits // 8)
  # A header may claim more data than the file holds: count what is there.
  held = tf.minimum(data_size, tf.maximum(length - data_pos, 0))
  frames = held // tf.maximum(frame_bytes, 1)
  seconds = tf.cast(frames, tf.float64) / tf.cast(
      tf.maximum(sample_rate, 1), tf.float64)
  up, down = resampling.resampling_factors(sample_rate)

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
      ((up > resampling.MAX_RESAMPLING_FACTOR) |
       (down > resampling.MAX_RESAMPLING_FACTOR),
       tf.strings.format(
           'unsupported WAV sample rate {} Hz: its ratio to 16000 Hz, {}/{} '
           'in lowest terms, exceeds {} on either side',
           (sample_rate, up, down, resampling.MAX_RESAMPLING_FACTOR))),
      (data_pos < 0, 'invalid WAV file: no data chunk'),
      (frames < 1, 'WAV file has no samples'),
      (seconds > max_seconds, tf.strings.format(
          'audio is {} s long; this model accepts at most '
          f'{max_seconds:g} s (max_audio_seconds)', seconds)),
  ])
  check = tf.debugging.Assert(tf.equal(message, ''), [message])
  with tf.control_dependencies([check]):
    return WavData(wav, *(tf.identity(t) for t in (
        data_pos, frames, channels, frame_bytes, branch, sample_rate)))


def decode_frames(data: WavData, first: tf.Tensor, count: tf.Tensor
                 ) -> tf.Tensor:
  """Frames [first, first + count) as float32 [n, channels], scaled as
  libsndfile scales them; cut to the frames the bytes hold. Only that range's
  bytes are copied and decoded.

  Raises:
    tf.errors.InvalidArgumentError: A decoded sample is NaN or Inf.
  """
  first = tf.clip_by_value(tf.cast(first, tf.int64), 0, data.frames)
  count = tf.clip_by_value(tf.cast(count, tf.int64), 0, data.frames - first)
  raw = tf.strings.substr(data.wav, data.data_pos + first * data.frame_bytes,
                          count * data.frame_bytes)
  samples = tf.switch_case(
      tf.maximum(data.branch, 0), [lambda f=f: f(raw) for f in _DECODERS])
  samples = tf.debugging.check_numerics(
      samples, 'WAV file has NaN or Inf samples')
  return tf.reshape(samples, [-1, data.channels])


def parse_wav(wav: tf.Tensor, max_seconds: float
             ) -> Tuple[tf.Tensor, tf.Tensor]:
  """Decodes a whole WAV file as libsndfile does (what soundfile gave
  training); see read_header for what is accepted.

  Returns:
    (samples [frames, channels] float32, sample rate int64).

  Raises:
    tf.errors.InvalidArgumentError: As read_header, or NaN/Inf samples.
  """
  data = read_header(wav, max_seconds)
  return decode_frames(data, 0, data.frames), data.sample_rate


def mono_16k_reader(data: WavData
                   ) -> Tuple[tf.Tensor, Callable[[tf.Tensor, tf.Tensor],
                                                  tf.Tensor]]:
  """The WAV file's 16 kHz mono waveform, as resampling.to_mono_16k gives it,
  read a range at a time.

  Returns:
    (length int64, read): read(start, size) -> float32 samples
    [start, start + size) of the waveform, fewer where it ends; it decodes
    only the frames those samples depend on (plus the resampling filter's
    reach), so no step holds the whole file's samples.
  """
  return resampling.mono_16k_ranges(
      lambda first, count: decode_frames(data, first, count), data.frames,
      data.sample_rate)
