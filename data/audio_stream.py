"""Reads an audio file of any length as 16 kHz mono in chunks, never whole.

The concatenated chunks equal `audio.read_waveform(path)`: the same down-mix,
the same polyphase resampling and clipping. Resampling a chunk needs a margin
of input on both sides (the filter's reach); chunks start on multiples of the
resampling ratio's denominator, so each chunk's output samples sit exactly
where the whole file's would.
"""

import math
from typing import Iterator

import numpy as np
import soundfile

from data import audio

# Input frames read from disk at a time.
DEFAULT_CHUNK_FRAMES = 1 << 18


def _mono(block: np.ndarray) -> np.ndarray:
  return block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]


class _StreamingResampler:
  """resample_poly(up, down) of a signal that arrives in pieces."""

  def __init__(self, up: int, down: int):
    self._up, self._down = up, down
    # resample_poly's filter reaches 10 * max(up, down) upsampled samples to
    # each side; as input samples, rounded up to a multiple of `down`.
    reach = math.ceil(10 * max(up, down) / up) + 1
    self._margin = -(-reach // down) * down
    self._pending = np.zeros(0, np.float32)
    # Input index of _pending[0], and of the first input not yet resampled.
    self._base = 0
    self._done = 0

  def _resample(self, end: int, last: bool) -> np.ndarray:
    from scipy import signal  # pylint: disable=g-import-not-at-top
    start = max(self._done - self._margin, 0)
    segment = self._pending[start - self._base:]
    if not segment.size:
      return np.zeros(0, np.float32)
    out = signal.resample_poly(segment, self._up, self._down)
    skip = (self._done - start) * self._up // self._down
    count = None if last else (end - self._done) * self._up // self._down
    out = out[skip:] if count is None else out[skip:skip + count]
    self._done = end
    keep = max(self._done - self._margin, 0)
    self._pending = self._pending[keep - self._base:]
    self._base = keep
    return out

  def push(self, samples: np.ndarray) -> np.ndarray:
    """Output for the input so far, short of the margin the filter needs."""
    self._pending = np.concatenate([self._pending, samples])
    available = self._base + len(self._pending) - self._margin
    end = (available // self._down) * self._down
    if end <= self._done:
      return np.zeros(0, np.float32)
    return self._resample(end, last=False)

  def finish(self) -> np.ndarray:
    """The rest of the output, the signal being complete."""
    return self._resample(self._base + len(self._pending), last=True)


def stream_16k(path: str, chunk_frames: int = DEFAULT_CHUNK_FRAMES
              ) -> Iterator[np.ndarray]:
  """16 kHz mono float32 chunks of a local audio file, in order."""
  with soundfile.SoundFile(path) as f:
    rate = f.samplerate
    blocks = f.blocks(blocksize=chunk_frames, dtype='float32', always_2d=True)
    if rate == audio.TARGET_SAMPLE_RATE:
      for block in blocks:
        yield np.clip(_mono(block), -1.0, 1.0)
      return
    divisor = math.gcd(audio.TARGET_SAMPLE_RATE, rate)
    resampler = _StreamingResampler(audio.TARGET_SAMPLE_RATE // divisor,
                                    rate // divisor)
    for block in blocks:
      out = resampler.push(_mono(block))
      if out.size:
        yield np.clip(out, -1.0, 1.0).astype(np.float32)
    yield np.clip(resampler.finish(), -1.0, 1.0).astype(np.float32)
