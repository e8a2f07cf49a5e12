"""The classifier for devices: TensorFlow Lite models, checked against the
SavedModel before they are written.

Two variants of the whole classifier (16 kHz waveform in, YAMNet, the head,
logits averaged over patches out): float, and dynamic-range int8 (weights in
int8, activations in float). On a device YAMNet runs on the whole input at
once (inputs there are short windows), not in the served model's blocks.
Ops TFLite lacks run through TF Select (the Flex delegate; the `tensorflow`
pip package's interpreter has it, devices link it).

Each variant is written only when, on the clips given, its top class agrees
with the SavedModel's on at least MIN_TOP1_AGREEMENT of them and, for the
float variant, every probability is within MAX_FLOAT_PROBABILITY_DIFF.
"""

import dataclasses
import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from serving import contract

FLOAT = 'float'
INT8 = 'int8'
VARIANTS = (FLOAT, INT8)
MIN_TOP1_AGREEMENT = 0.99
MAX_FLOAT_PROBABILITY_DIFF = 1e-3


def file_name(variant: str) -> str:
  return f'classifier_{variant}.tflite'


class _WholeWaveformClassifier(tf.Module):
  """The exported classifier's computation, YAMNet on the whole input."""

  def __init__(self, exported):
    super().__init__()
    self.exported = exported

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.float32, name=contract.AUDIO_INPUT)])
  def classify(self, audio):
    _, embeddings, _ = self.exported.yamnet(audio)
    hidden = tf.nn.relu(tf.matmul(embeddings, self.exported.hidden_kernel) +
                        self.exported.hidden_bias)
    logits = tf.reduce_mean(
        tf.matmul(hidden, self.exported.output_kernel) +
        self.exported.output_bias, axis=0)
    return {'classifier': logits, 'probabilities': tf.nn.softmax(logits)}


def convert(saved_model_dir: str) -> Dict[str, bytes]:
  """{variant: TFLite flatbuffer} of an exported classifier."""
  module = _WholeWaveformClassifier(tf.saved_model.load(saved_model_dir))
  models = {}
  for variant in VARIANTS:
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.classify.get_concrete_function()], module)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    if variant == INT8:
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    models[variant] = converter.convert()
  return models


def tflite_probabilities(model_content: bytes,
                         waveforms: Sequence[np.ndarray]) -> np.ndarray:
  """[clips, classes] probabilities of a TFLite classifier."""
  runner = tf.lite.Interpreter(
      model_content=model_content).get_signature_runner()
  return np.stack([runner(**{contract.AUDIO_INPUT: np.asarray(
      w, np.float32)})['probabilities'] for w in waveforms])


@dataclasses.dataclass(frozen=True)
class Check:
  """How one variant compares with the SavedModel on the clips."""
  variant: str
  clips: int
  top1_agreement: float
  max_probability_diff: float
  size_bytes: int
  passed: bool
  reason: str


def check(variant: str, model_content: bytes, expected: np.ndarray,
          waveforms: Sequence[np.ndarray]) -> Check:
  got = tflite_probabilities(model_content, waveforms)
  agreement = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
  diff = float(np.max(np.abs(got - expected)))
  problems = []
  if agreement < MIN_TOP1_AGREEMENT:
    problems.append(f'top-1 agrees with the SavedModel on {agreement:.3f} of '
                    f'{len(waveforms)} clips (< {MIN_TOP1_AGREEMENT})')
  if variant == FLOAT and diff > MAX_FLOAT_PROBABILITY_DIFF:
    problems.append(f'probabilities differ by up to {diff:.2g} (> '
                    f'{MAX_FLOAT_PROBABILITY_DIFF:g})')
  reason = '; '.join(problems) or (
      f'top-1 agreement {agreement:.3f} on {len(waveforms)} clips, largest '
      f'probability difference {diff:.2g}')
  return Check(variant, len(waveforms), agreement, diff, len(model_content),
               not problems, reason)


def export_tflite(saved_model_dir: str, out_dir: str,
                  waveforms: Sequence[np.ndarray]) -> List[Check]:
  """Converts, checks each variant on the clips, writes those that pass
  (with labels.txt, the class names in index order) to out_dir."""
  if not waveforms:
    raise ValueError('no clips to check the TFLite models on')
  exported = tf.saved_model.load(saved_model_dir)
  serve = exported.signatures[contract.SERVING_SIGNATURE]
  expected = np.stack([serve(**{contract.AUDIO_INPUT: tf.constant(
      w, tf.float32)})['probabilities'].numpy() for w in waveforms])
  models = convert(saved_model_dir)
  checks = [check(variant, content, expected, waveforms)
            for variant, content in models.items()]
  passed = {c.variant for c in checks if c.passed}
  if passed:
    tf.io.gfile.makedirs(out_dir)
    names = [n.decode() for n in exported.class_names.numpy()]
    with tf.io.gfile.GFile(os.path.join(out_dir, contract.LABELS_ASSET),
                           'w') as f:
      f.write(''.join(f'{name}\n' for name in names))
  for variant, content in models.items():
    if variant in passed:
      with tf.io.gfile.GFile(os.path.join(out_dir, file_name(variant)),
                             'wb') as f:
        f.write(content)
  return checks


def predict_files(tflite_path: str, paths: Sequence[str]
                 ) -> List[Dict[str, object]]:
  """Classifies audio files with a TFLite classifier, as local_predict does
  with the SavedModel; class names from labels.txt beside the model."""
  from data import audio  # pylint: disable=g-import-not-at-top
  labels_path = os.path.join(os.path.dirname(tflite_path),
                             contract.LABELS_ASSET)
  with tf.io.gfile.GFile(labels_path) as f:
    names = [line.rstrip('\n') for line in f if line.strip()]
  with tf.io.gfile.GFile(tflite_path, 'rb') as f:
    content = f.read()
  results = []
  for path in paths:
    (probabilities,) = tflite_probabilities(content,
                                            [audio.read_waveform(path)])
    index = int(np.argmax(probabilities))
    results.append({'file': path, **contract.prediction({
        'class_names': names, 'probabilities': probabilities,
        'class_name': names[index], 'class_index': index})})
  return results
