"""Does a TFLite classifier answer as the SavedModel it came from?

Run in a fresh process, one per model (serving/child_process.py says why):

    python -m serving.tflite_check VARIANT SAVED_MODEL_DIR MODEL.tflite \
        CLIPS.json [--exact]

CLIPS.json names the clips: {"kind": "records", "files": [...]} for TFRecord
files of clip Examples (the Pusher's test splits) or {"kind": "audio",
"files": [...]} for audio files (`export-tflite`). The clips are streamed,
one at a time, through both models. The model passes when its top class
agrees with the SavedModel's on at least MIN_TOP1_AGREEMENT of the clips and,
with --exact, every probability is within MAX_PROBABILITY_DIFF. A model that
does not load, fails on a clip or answers NaN fails with that reason. Prints
one JSON line: the Check.
"""

import argparse
import dataclasses
import json
from typing import Iterator, Optional, Sequence

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


def _compare(model_runner, serve, clips: Iterator[np.ndarray]) -> dict:
  """Clips seen, top-1 agreements, largest probability difference and the
  first failure (None when there is none)."""
  seen, agreeing, max_diff = 0, 0, 0.0
  for waveform in clips:
    seen += 1
    expected = serve(**{contract.AUDIO_INPUT: tf.constant(
        waveform, tf.float32)})['probabilities'].numpy()
    try:
      got = probabilities(model_runner, waveform)
    except Exception as error:  # pylint: disable=broad-except
      return dict(clips=seen, agreeing=agreeing, max_diff=max_diff,
                  failure=f'fails on clip {seen}: {error}')
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
      return dict(clips=seen, agreeing=agreeing, max_diff=max_diff,
                  failure=f'answers {got.tolist()} on clip {seen} where the '
                  f'SavedModel answers {expected.tolist()}')
    agreeing += int(got.argmax() == expected.argmax())
    max_diff = max(max_diff, float(np.max(np.abs(got - expected))))
  return dict(clips=seen, agreeing=agreeing, max_diff=max_diff,
              failure=None if seen else 'no clips to check it on')


def check(variant: str, saved_model_dir: str, model_content: bytes,
          clips: Iterator[np.ndarray], exact: bool) -> Check:
  """Compares the TFLite model with the SavedModel's serving signature."""
  serve = tf.saved_model.load(saved_model_dir).signatures[
      contract.SERVING_SIGNATURE]
  try:
    model_runner = runner(model_content)
  except (ValueError, RuntimeError) as error:
    return failed(variant, len(model_content),
                  f'does not load in the TFLite interpreter: {error}')
  facts = _compare(model_runner, serve, clips)
  if facts['failure']:
    return failed(variant, len(model_content), facts['failure'])
  agreement = facts['agreeing'] / facts['clips']
  problems = []
  if agreement < MIN_TOP1_AGREEMENT:
    problems.append(f'top-1 agrees with the SavedModel on {agreement:.3f} of '
                    f"{facts['clips']} clips (< {MIN_TOP1_AGREEMENT})")
  if exact and facts['max_diff'] > MAX_PROBABILITY_DIFF:
    problems.append(f"probabilities differ by up to {facts['max_diff']:.2g} "
                    f'(> {MAX_PROBABILITY_DIFF:g})')
  reason = '; '.join(problems) or (
      f"top-1 agreement {agreement:.3f} on {facts['clips']} clips, largest "
      f"probability difference {facts['max_diff']:.2g}")
  return Check(variant, facts['clips'], agreement, facts['max_diff'],
               len(model_content), not problems, reason)


def failed(variant: str, size_bytes: int, reason: str) -> Check:
  return Check(variant, 0, 0.0, 0.0, size_bytes, False, reason)


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('variant')
  parser.add_argument('saved_model_dir')
  parser.add_argument('tflite_file')
  parser.add_argument('clips_json')
  parser.add_argument('--exact', action='store_true')
  args = parser.parse_args(argv)
  with tf.io.gfile.GFile(args.clips_json) as f:
    clips = json.loads(f.read())
  with tf.io.gfile.GFile(args.tflite_file, 'rb') as f:
    content = f.read()
  result = check(args.variant, args.saved_model_dir, content,
                 waveforms(clips['kind'], clips['files']), args.exact)
  print(json.dumps(dataclasses.asdict(result)))


if __name__ == '__main__':
  main()
