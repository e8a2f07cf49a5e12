"""Loads an exported model as TF Serving does and checks its serving contract.

The validator runs this file in a fresh Python process
(`python servable_check.py MODEL_DIR`), so nothing the pipeline imported or
registered can make a model pass that TF Serving would fail to load or run.
It loads the SavedModel with the `serve` tag, replays the TF Serving warm-up
requests, runs `serving_default` and `serving_wav` on canonical inputs and
checks every output, and checks that `serving_timeline`'s per-patch logits
average to `serving_default`'s scores. It prints one JSON line: {"ok",
"failures", "checks"}.
"""

import json
import os
import sys
from typing import Any, Dict, List

import numpy as np
import tensorflow as tf

from data import audio
from serving import contract

_SAMPLE_RATE = audio.TARGET_SAMPLE_RATE
_PROBABILITY_TOLERANCE = 1e-4


class _Report:
  """Collects passed checks and failures, so one run reports every problem."""

  def __init__(self):
    self.checks: List[str] = []
    self.failures: List[str] = []

  def expect(self, condition: bool, check: str, failure: str) -> bool:
    (self.checks if condition else self.failures).append(
        check if condition else f'{check}: {failure}')
    return condition


def _check_input(report: _Report, model, signature: str, name: str,
                 dtype: tf.DType, shape: List[Any]) -> bool:
  if not report.expect(signature in model.signatures, f'{signature} exists',
                       f'the model has only {sorted(model.signatures)}'):
    return False
  specs = model.signatures[signature].structured_input_signature[1]
  spec = specs.get(name)
  return report.expect(
      list(specs) == [name] and spec.dtype == dtype and
      spec.shape.as_list() == shape,
      f'{signature} takes {name} {dtype.name}{shape}',
      'it takes ' + ', '.join(f'{k} {v.dtype.name}{v.shape.as_list()}'
                              for k, v in specs.items()))


def _check_outputs(report: _Report, label: str, outputs: Dict[str, tf.Tensor],
                   class_names: List[str]) -> None:
  """Names, dtypes, shapes, finiteness and agreement of one call's outputs."""
  missing = sorted(set(contract.OUTPUT_NAMES) - set(outputs))
  if not report.expect(not missing, f'{label}: all outputs present',
                       f'missing {missing}'):
    return
  n = len(class_names)
  expected = {'classifier': (tf.float32, [n]),
              'probabilities': (tf.float32, [n]),
              'class_index': (tf.int32, []),
              'class_name': (tf.string, []),
              'class_names': (tf.string, [n])}
  for name, (dtype, shape) in expected.items():
    value = outputs[name]
    if not report.expect(
        value.dtype == dtype and value.shape.as_list() == shape,
        f'{label}: {name} is {dtype.name}{shape}',
        f'got {value.dtype.name}{value.shape.as_list()}'):
      return
  scores = outputs['classifier'].numpy()
  probabilities = outputs['probabilities'].numpy()
  index = int(outputs['class_index'].numpy())
  report.expect(bool(np.all(np.isfinite(scores)) and
                     np.all(np.isfinite(probabilities))),
                f'{label}: scores and probabilities are finite',
                f'classifier={scores.tolist()}, '
                f'probabilities={probabilities.tolist()}')
  total = float(np.sum(probabilities))
  report.expect(bool(np.all(probabilities >= 0)) and
                abs(total - 1.0) <= _PROBABILITY_TOLERANCE,
                f'{label}: probabilities are >= 0 and sum to 1',
                f'they sum to {total}')
  report.expect(index == int(np.argmax(scores)),
                f'{label}: class_index is the top score',
                f'class_index {index}, argmax {int(np.argmax(scores))}')
  names = [v.decode() for v in outputs['class_names'].numpy()]
  report.expect(names == class_names, f'{label}: class_names as labelled',
                f'got {names}, expected {class_names}')
  report.expect(
      0 <= index < n and outputs['class_name'].numpy().decode() ==
      class_names[index], f'{label}: class_name is class_names[class_index]',
      f'class_name {outputs["class_name"].numpy()!r}, index {index}')


def _class_names(report: _Report, model_dir: str) -> List[str]:
  """The labels asset; the model card must agree with it."""
  labels_file = os.path.join(model_dir, 'assets', contract.LABELS_ASSET)
  names = []
  if report.expect(tf.io.gfile.exists(labels_file), 'labels asset exists',
                   f'{labels_file} is missing'):
    with tf.io.gfile.GFile(labels_file) as f:
      names = f.read().splitlines()
  report.expect(bool(names) and len(set(names)) == len(names),
                'class names are non-empty and unique', f'got {names}')
  card_file = os.path.join(model_dir, contract.MODEL_CARD)
  if report.expect(tf.io.gfile.exists(card_file), 'model card exists',
                   f'{card_file} is missing'):
    with tf.io.gfile.GFile(card_file) as f:
      card = json.load(f)
    report.expect(card.get('class_names') == names,
                  'model card lists the labelled classes',
                  f'card has {card.get("class_names")}, labels {names}')
  return names


def _replay_warmup(report: _Report, model, model_dir: str) -> None:
  """Runs the warm-up requests as TF Serving does when it loads the model."""
  # Imported here: only this check needs TF Serving's protos.
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  path = os.path.join(model_dir, contract.WARMUP_FILE)
  if not report.expect(tf.io.gfile.exists(path), 'warm-up requests exist',
                       f'{path} is missing'):
    return
  for i, record in enumerate(tf.data.TFRecordDataset(path)):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    request = log.predict_log.request
    signature = request.model_spec.signature_name or 'serving_default'
    try:
      model.signatures[signature](**{
          name: tf.constant(tf.make_ndarray(value))
          for name, value in request.inputs.items()})
      failure = ''
    except Exception as e:  # pylint: disable=broad-except
      failure = f'{type(e).__name__}: {e}'
    report.expect(not failure, f'warm-up request {i} ({signature}) runs',
                  failure)


def _check_timeline(report: _Report, model, tone: np.ndarray,
                    served: Dict[str, tf.Tensor]) -> None:
  """serving_timeline's patches average to serving_default's scores."""
  if not _check_input(report, model, contract.TIMELINE_SIGNATURE,
                      contract.AUDIO_INPUT, tf.float32, [None]):
    return
  label = 'serving_timeline on the 5 s tone'
  try:
    outputs = model.signatures[contract.TIMELINE_SIGNATURE](
        **{contract.AUDIO_INPUT: tf.constant(tone)})
  except Exception as e:  # pylint: disable=broad-except
    report.expect(False, f'{label} runs', f'{type(e).__name__}: {e}')
    return
  mean = outputs['logits'].numpy().mean(axis=0)
  expected = served['classifier'].numpy()
  report.expect(
      mean.shape == expected.shape and np.allclose(mean, expected, atol=1e-4),
      f'{label}: its patches\' logits average to serving_default\'s',
      f'{mean.tolist()} vs {expected.tolist()}')


def check_model(model_dir: str) -> Dict[str, Any]:
  """Every check on the SavedModel in model_dir; see the module docstring."""
  report = _Report()
  try:
    model = tf.saved_model.load(model_dir, tags=['serve'])
  except Exception as e:  # pylint: disable=broad-except
    report.expect(False, 'loads with tag serve', f'{type(e).__name__}: {e}')
    return {'ok': False, 'failures': report.failures, 'checks': report.checks}
  report.checks.append('loads with tag serve')
  class_names = _class_names(report, model_dir)
  tone = contract.probe_tone(5.0, _SAMPLE_RATE)
  calls = []
  if _check_input(report, model, contract.SERVING_SIGNATURE,
                  contract.AUDIO_INPUT, tf.float32, [None]):
    waveform_call = model.signatures[contract.SERVING_SIGNATURE]
    calls += [('serving_default on 1 s of silence', waveform_call,
               {contract.AUDIO_INPUT: np.zeros(_SAMPLE_RATE, np.float32)}),
              ('serving_default on a 5 s tone', waveform_call,
               {contract.AUDIO_INPUT: tone})]
  if _check_input(report, model, contract.WAV_SIGNATURE, contract.WAV_INPUT,
                  tf.string, []):
    wav_call = model.signatures[contract.WAV_SIGNATURE]
    tone_44k = contract.probe_tone(5.0, 44100)
    calls += [('serving_wav on the tone as 16 kHz float WAV', wav_call,
               {contract.WAV_INPUT: audio.encode_wav(tone, _SAMPLE_RATE,
                                                     'FLOAT')}),
              ('serving_wav on the tone as 44.1 kHz stereo 16-bit WAV',
               wav_call, {contract.WAV_INPUT: audio.encode_wav(
                   np.stack([tone_44k, tone_44k], axis=1), 44100)})]
  results = {}
  for label, function, inputs in calls:
    try:
      outputs = function(**{k: tf.constant(v) for k, v in inputs.items()})
    except Exception as e:  # pylint: disable=broad-except
      report.expect(False, f'{label} runs', f'{type(e).__name__}: {e}')
      continue
    results[label] = outputs
    _check_outputs(report, label, outputs, class_names)
  pair = ('serving_default on a 5 s tone',
          'serving_wav on the tone as 16 kHz float WAV')
  if all(label in results for label in pair):
    a, b = (results[label]['classifier'].numpy() for label in pair)
    report.expect(a.shape == b.shape and np.allclose(a, b, atol=1e-4),
                  'serving_wav decodes a 16 kHz WAV to the same scores',
                  f'{a.tolist()} vs {b.tolist()}')
  if pair[0] in results:
    _check_timeline(report, model, tone, results[pair[0]])
  _replay_warmup(report, model, model_dir)
  return {'ok': not report.failures, 'failures': report.failures,
          'checks': report.checks}


if __name__ == '__main__':
  print(json.dumps(check_model(sys.argv[1])))
