"""Does a TFLite classifier answer as the SavedModel it came from?

Run in a fresh process (serving/child_process.py says why):

    python -m serving.tflite_check SAVED_MODEL_DIR CLIPS.json \
        VARIANT=MODEL.tflite... [--exact VARIANT]...

CLIPS.json names the clips: {"kind": "records", "files": [...]} for TFRecord
files of clip Examples (the Pusher's test splits) or {"kind": "audio",
"files": [...]} for audio files (`export-tflite`). The clips are streamed,
one at a time, through the SavedModel once and every TFLite model. A model
passes when its top class agrees with the SavedModel's on at least
MIN_TOP1_AGREEMENT of the clips and, with --exact, every probability is
within MAX_PROBABILITY_DIFF. A model that does not load, fails on a clip or
answers NaN fails with that reason. Prints one JSON line: the Checks.
"""

import argparse
import dataclasses
import json
from typing import Iterator, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from serving import contract

MIN_TOP1_AGREEMENT = 0.99
MAX_PROBABILITY_DIFF = 1e-3
# Kinds of clip lists.
RECORDS = 'records'
AUDIO_FILES = 'audio'


@dataclasses.dataclass(frozen=True)
class Check:
  """How one TFLite model compares with the SavedModel on the clips."""
  variant: str
  clips: int
  top1_agreement: float
  max_probability_diff: float
  size_bytes: int
  passed: bool
  reason: str


def runner(model_content: bytes):
  """The TFLite model's serving signature, callable as runner(audio=...)."""
  return tf.lite.Interpreter(
      model_content=model_content).get_signature_runner()


def probabilities(model_runner, waveform: np.ndarray) -> np.ndarray:
  return model_runner(**{contract.AUDIO_INPUT: np.asarray(
      waveform, np.float32)})['probabilities']


def waveforms(kind: str, files: Sequence[str]) -> Iterator[np.ndarray]:
  """The 16 kHz waveforms of the clips, one at a time."""
  # pylint: disable=g-import-not-at-top
  from data import audio
  from data import clip_examples
  from data import record_files
  if kind == AUDIO_FILES:
    for path in files:
      yield audio.read_waveform(path)
    return
  if kind != RECORDS:
    raise ValueError(f'unknown kind of clips: {kind!r}')
  spec = clip_examples.parse_spec([clip_examples.AUDIO])
  for record in record_files.record_dataset(files):
    yield tf.io.parse_single_example(record, spec)[
        clip_examples.AUDIO].numpy()


@dataclasses.dataclass(frozen=True)
class Candidate:
  """A TFLite model to check; `exact`: its probabilities must match too."""
  variant: str
  content: bytes
  exact: bool


class _Comparison:
  """One candidate against the SavedModel, accumulated clip by clip."""

  def __init__(self, candidate: Candidate):
    self.candidate = candidate
    self.agreeing = 0
    self.max_diff = 0.0
    self.failure = None
    try:
      self._runner = runner(candidate.content)
    except (ValueError, RuntimeError) as error:
      self.failure = f'does not load in the TFLite interpreter: {error}'

  def add(self, clip: int, waveform: np.ndarray, expected: np.ndarray):
    if self.failure:
      return
    try:
      got = probabilities(self._runner, waveform)
    except Exception as error:  # pylint: disable=broad-except
      self.failure = f'fails on clip {clip}: {error}'
      return
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
      self.failure = (f'answers {got.tolist()} on clip {clip} where the '
                      f'SavedModel answers {expected.tolist()}')
      return
    self.agreeing += int(got.argmax() == expected.argmax())
    self.max_diff = max(self.max_diff, float(np.max(np.abs(got - expected))))

  def verdict(self, clips: int) -> Check:
    variant, size = self.candidate.variant, len(self.candidate.content)
    failure = self.failure or (None if clips else 'no clips to check it on')
    if failure:
      return failed(variant, size, failure)
    agreement = self.agreeing / clips
    problems = []
    if agreement < MIN_TOP1_AGREEMENT:
      problems.append(f'top-1 agrees with the SavedModel on {agreement:.3f} '
                      f'of {clips} clips (< {MIN_TOP1_AGREEMENT})')
    if self.candidate.exact and self.max_diff > MAX_PROBABILITY_DIFF:
      problems.append(f'probabilities differ by up to {self.max_diff:.2g} '
                      f'(> {MAX_PROBABILITY_DIFF:g})')
    reason = '; '.join(problems) or (
        f'top-1 agreement {agreement:.3f} on {clips} clips, largest '
        f'probability difference {self.max_diff:.2g}')
    return Check(variant, clips, agreement, self.max_diff, size,
                 not problems, reason)


def check(saved_model_dir: str, candidates: Sequence[Candidate],
          clips: Iterator[np.ndarray]) -> List[Check]:
  """Compares each candidate with the SavedModel's serving signature; each
  clip goes through the SavedModel once, whatever the number of candidates."""
  serve = tf.saved_model.load(saved_model_dir).signatures[
      contract.SERVING_SIGNATURE]
  comparisons = [_Comparison(candidate) for candidate in candidates]
  seen = 0
  for waveform in clips:
    if all(c.failure for c in comparisons):
      break
    seen += 1
    expected = serve(**{contract.AUDIO_INPUT: tf.constant(
        waveform, tf.float32)})['probabilities'].numpy()
    for comparison in comparisons:
      comparison.add(seen, waveform, expected)
  return [comparison.verdict(seen) for comparison in comparisons]


def failed(variant: str, size_bytes: int, reason: str) -> Check:
  return Check(variant, 0, 0.0, 0.0, size_bytes, False, reason)


def checks_json(checks: Sequence[Check], indent: Optional[int] = None
               ) -> str:
  """Checks as JSON: how the check process reports them and how the pushed
  version (checks.json) and the PushedModel record them."""
  return json.dumps([dataclasses.asdict(c) for c in checks], indent=indent)


def parse_checks(facts: Sequence[dict]) -> List[Check]:
  """The Checks of checks_json's list, once parsed."""
  return [Check(**f) for f in facts]


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('saved_model_dir')
  parser.add_argument('clips_json')
  parser.add_argument('models', nargs='+', metavar='VARIANT=MODEL.tflite')
  parser.add_argument('--exact', action='append', default=[],
                      metavar='VARIANT')
  args = parser.parse_args(argv)
  with tf.io.gfile.GFile(args.clips_json) as f:
    clips = json.loads(f.read())
  candidates = []
  for given in args.models:
    variant, path = given.split('=', 1)
    with tf.io.gfile.GFile(path, 'rb') as f:
      candidates.append(Candidate(variant, f.read(), variant in args.exact))
  results = check(args.saved_model_dir, candidates,
                  waveforms(clips['kind'], clips['files']))
  print(checks_json(results))


if __name__ == '__main__':
  main()
