"""The classifier for devices: TensorFlow Lite models, checked against the
SavedModel before they are written.

Two variants of the whole classifier (16 kHz waveform in, YAMNet, the head,
logits averaged over patches out): float, and dynamic-range int8 (weights in
int8, activations in float). On a device YAMNet runs on the whole input at
once (inputs there are short windows), not in the served model's blocks.
Ops TFLite lacks run through TF Select (the Flex delegate; the `tensorflow`
pip package's interpreter has it, devices link it).

Each variant is written only when serving/tflite_check.py, run on the clips
given in a process of its own, finds that it answers as the SavedModel does
(the float variant to within its probability tolerance, the int8 one in its
top class). A conversion that fails or a model that fails its check is
withheld, with the reason in the checks file.
"""

import json
import logging
import os
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from serving import child_process
from serving import contract
from serving import tflite_check

FLOAT = 'float'
INT8 = 'int8'
VARIANTS = (FLOAT, INT8)
# Each variant's check may take this long, on however many clips.
CHECK_TIMEOUT_SECONDS = 3600
# Where a pushed version keeps its TFLite models, labels and checks: TF
# Serving ignores assets.extra/ beyond its warm-up file, and the models
# appear with their SavedModel version, atomically.
VERSION_SUBDIR = os.path.join('assets.extra', 'tflite')
CHECKS_FILE = 'checks.json'


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


def _convert_variant(module: _WholeWaveformClassifier, variant: str) -> bytes:
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [module.classify.get_concrete_function()], module)
  converter.target_spec.supported_ops = [
      tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
  if variant == INT8:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  return converter.convert()


def convert_loaded(exported) -> Dict[str, bytes]:
  """{variant: TFLite flatbuffer} of a loaded exported classifier."""
  module = _WholeWaveformClassifier(exported)
  return {variant: _convert_variant(module, variant) for variant in VARIANTS}


def convert(saved_model_dir: str) -> Dict[str, bytes]:
  """{variant: TFLite flatbuffer} of an exported classifier."""
  return convert_loaded(tf.saved_model.load(saved_model_dir))


def tflite_probabilities(model_content: bytes,
                         waveforms: Iterable[np.ndarray]) -> np.ndarray:
  """[clips, classes] probabilities of a TFLite classifier, through one
  interpreter; the waveforms may be streamed."""
  runner = tflite_check.runner(model_content)
  return np.stack([tflite_check.probabilities(runner, w) for w in waveforms])


def _check_in_child(saved_model_dir: str, clips_json: str,
                    paths: Dict[str, str], timeout_seconds: float
                   ) -> Tuple[Optional[List[tflite_check.Check]], str]:
  report, failure = child_process.run_json_report(
      ['-m', 'serving.tflite_check', saved_model_dir, clips_json] +
      [f'{variant}={path}' for variant, path in paths.items()] +
      [f'--exact={FLOAT}'] * (FLOAT in paths), timeout_seconds)
  if report is None:
    return None, failure
  return tflite_check.parse_checks(report), ''


def check_variants(saved_model_dir: str, models: Dict[str, bytes],
                   clips_kind: str, clip_files: Sequence[str],
                   timeout_seconds: float = CHECK_TIMEOUT_SECONDS
                  ) -> List[tflite_check.Check]:
  """Each variant's check, all in one process that runs every clip through
  the SavedModel once; if that process dies, each variant again in a process
  of its own, so the one that crashes is named and the others still count."""
  with tempfile.TemporaryDirectory() as staging_dir:
    clips_json = os.path.join(staging_dir, 'clips.json')
    _write(clips_json, json.dumps({'kind': clips_kind,
                                   'files': list(clip_files)}))
    paths = {}
    for variant, content in models.items():
      paths[variant] = os.path.join(staging_dir, file_name(variant))
      _write(paths[variant], content)
    checks, failure = _check_in_child(saved_model_dir, clips_json, paths,
                                      timeout_seconds)
    if checks is not None:
      return checks
    logging.warning('The TFLite check process died (%s); checking each '
                    'variant on its own', failure)
    results = []
    for variant, path in paths.items():
      alone, failure = _check_in_child(saved_model_dir, clips_json,
                                       {variant: path}, timeout_seconds)
      results += alone or [tflite_check.failed(variant, len(models[variant]),
                                               failure)]
    return results


def _write(path: str, content: Union[bytes, str]) -> None:
  with tf.io.gfile.GFile(path, 'wb' if isinstance(content, bytes) else 'w'
                        ) as f:
    f.write(content)


def export_tflite(saved_model_dir: str, out_dir: str, clips_kind: str,
                  clip_files: Sequence[str]) -> List[tflite_check.Check]:
  """Converts, checks each variant on the clips (tflite_check's kinds), and
  writes to out_dir the variants that pass, labels.txt (the class names in
  index order) and CHECKS_FILE (every variant's check, passed or not)."""
  try:
    exported = tf.saved_model.load(saved_model_dir)
    models = convert_loaded(exported)
  except Exception as error:  # pylint: disable=broad-except
    # TF's converter failing withholds the TFLite files, nothing else.
    models = {}
    checks = [tflite_check.failed(variant, 0, f'conversion failed: {error}')
              for variant in VARIANTS]
  else:
    checks = check_variants(saved_model_dir, models, clips_kind, clip_files)
  tf.io.gfile.makedirs(out_dir)
  _write(os.path.join(out_dir, CHECKS_FILE),
         tflite_check.checks_json(checks, indent=2))
  passed = [c.variant for c in checks if c.passed]
  if passed:
    _write(os.path.join(out_dir, contract.LABELS_ASSET),
           ''.join(f'{name.decode()}\n'
                   for name in exported.class_names.numpy()))
  for variant in passed:
    _write(os.path.join(out_dir, file_name(variant)), models[variant])
  return checks


def read_checks(tflite_dir: str) -> List[tflite_check.Check]:
  """The checks export_tflite recorded in tflite_dir (none if it holds no
  record)."""
  path = os.path.join(tflite_dir, CHECKS_FILE)
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return tflite_check.parse_checks(json.loads(f.read()))


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
  for path, probabilities in zip(paths, tflite_probabilities(
      content, (audio.read_waveform(path) for path in paths))):
    index = int(np.argmax(probabilities))
    results.append({'file': path, **contract.prediction({
        'class_names': names, 'probabilities': probabilities,
        'class_name': names[index], 'class_index': index})})
  return results
