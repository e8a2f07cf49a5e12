"""Timelines of long recordings: what the model hears when, and the events.

A recording is streamed from disk as 16 kHz audio (data/audio_stream.py) and
sent to the serving_timeline signature in requests of REQUEST_PATCHES
patches. Requests start on patch boundaries and overlap by the part of a
patch that reaches into the next request, so the patches, and so the
timeline, are those of the whole recording, whatever its length.

An event is a run of consecutive patches whose top class is the same trained
class with probability >= min_probability; its score is the mean of those
probabilities.
"""

import dataclasses
from typing import Callable, Dict, Iterable, Iterator, List, Tuple

import numpy as np

from data import audio_stream
from serving import contract
from yamnet import spec

# Patches per request: about a minute of audio.
REQUEST_PATCHES = 128
REQUEST_SAMPLES = spec.PATCH_SAMPLES + (REQUEST_PATCHES - 1) * (
    spec.PATCH_HOP_SAMPLES)
# Samples of a request's last patch that the next request reads again.
_OVERLAP_SAMPLES = spec.PATCH_SAMPLES - spec.PATCH_HOP_SAMPLES

# serving_timeline on one 16 kHz waveform -> its outputs as numpy arrays.
TimelineFn = Callable[[np.ndarray], Dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Patch:
  start_s: float
  end_s: float
  class_name: str
  probability: float
  yamnet_class_name: str
  yamnet_score: float


@dataclasses.dataclass(frozen=True)
class Event:
  start_s: float
  end_s: float
  class_name: str
  score: float

  def to_json(self) -> Dict[str, object]:
    return dataclasses.asdict(self)

  def __str__(self) -> str:
    return (f'{self.start_s:8.2f}-{self.end_s:8.2f} s  {self.class_name}  '
            f'{self.score:.3f}')


def requests(chunks: Iterable[np.ndarray]) -> Iterator[Tuple[int, np.ndarray]]:
  """(index of its first patch, waveform) of each request over the chunks."""
  pending = np.zeros(0, np.float32)
  first_patch = 0
  for chunk in chunks:
    pending = np.concatenate([pending, chunk])
    while len(pending) >= REQUEST_SAMPLES:
      yield first_patch, pending[:REQUEST_SAMPLES]
      pending = pending[REQUEST_PATCHES * spec.PATCH_HOP_SAMPLES:]
      first_patch += REQUEST_PATCHES
  # After a full request, the first _OVERLAP_SAMPLES were its last patch's.
  if (first_patch == 0 and len(pending)) or len(pending) > _OVERLAP_SAMPLES:
    yield first_patch, pending


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def patches(timeline_fn: TimelineFn, path: str) -> List[Patch]:
  """Every patch of the recording at `path`, in order."""
  offset_s = spec.PATCH_HOP_SAMPLES / spec.SAMPLE_RATE
  result = []
  for first_patch, waveform in requests(audio_stream.stream_16k(path)):
    outputs = timeline_fn(waveform)
    probabilities = np.asarray(outputs['probabilities'], np.float64)
    start = np.asarray(outputs[contract.TIMELINE_START], np.float64)
    end = np.asarray(outputs[contract.TIMELINE_END], np.float64)
    top = probabilities.max(axis=1)
    class_names = np.asarray(outputs['class_name'])
    yamnet_names = np.asarray(outputs[contract.TIMELINE_YAMNET_CLASS])
    yamnet_scores = np.asarray(outputs[contract.TIMELINE_YAMNET_SCORE])
    for i in range(len(probabilities)):
      result.append(Patch(
          start_s=float(start[i] + first_patch * offset_s),
          end_s=float(end[i] + first_patch * offset_s),
          class_name=_text(class_names[i]),
          probability=float(top[i]),
          yamnet_class_name=_text(yamnet_names[i]),
          yamnet_score=float(yamnet_scores[i])))
  return result


def events(timeline: Iterable[Patch],
           min_probability: float = contract.DEFAULT_MIN_PROBABILITY
          ) -> List[Event]:
  """Runs of consecutive patches confidently of one class, merged."""
  found: List[Event] = []
  run: List[Patch] = []

  def close_run():
    if run:
      found.append(Event(run[0].start_s, run[-1].end_s, run[0].class_name,
                         float(np.mean([p.probability for p in run]))))
      run.clear()

  for patch in timeline:
    if patch.probability < min_probability:
      close_run()
      continue
    if run and run[-1].class_name != patch.class_name:
      close_run()
    run.append(patch)
  close_run()
  return found


def local_timeline_fn(model) -> TimelineFn:
  """serving_timeline of a SavedModel loaded in this process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  signature = model.signatures[contract.TIMELINE_SIGNATURE]

  def run(waveform: np.ndarray) -> Dict[str, np.ndarray]:
    outputs = signature(**{contract.AUDIO_INPUT: tf.constant(waveform)})
    return {name: value.numpy() for name, value in outputs.items()}

  return run


def server_timeline_fn(client) -> TimelineFn:
  """serving_timeline through a TF Serving client (serving/client.py)."""
  return lambda waveform: client.predict(
      contract.TIMELINE_SIGNATURE, {contract.AUDIO_INPUT: waveform})
