"""The push gate: TFX's Evaluator with the pipeline's clip-level config.

Runs Evaluator's executor, loading the model as the pipeline does
(pipeline/eval_models.py), on a small exported classifier and clip Examples
laid out as Esc50ExampleGen writes them. The head always answers 'dog', so
the accuracy of each slice follows from the labels alone.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.eager.polymorphic_function import concrete_function
from tensorflow_model_analysis.utils import model_util
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_artifacts
from tfx.utils import path_utils
from tfx.utils import proto_utils

from yamnet import loader
from pipeline import evaluation_results
from pipeline import eval_configs
from pipeline import eval_models
from serving import classifier_module
from serving import contract

CLASSES = ['dog', 'cat']
# 8 dog clips (all right) and 2 cat clips (both wrong): overall 0.8, cat 0.
LABELS = ['dog'] * 8 + ['cat'] * 2


def _clip_example(waveform, category):
  return tf.train.Example(features=tf.train.Features(feature={
      'audio': tf.train.Feature(float_list=tf.train.FloatList(value=waveform)),
      'category': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[category.encode()])),
  })).SerializeToString()


@pytest.fixture(scope='module')
def artifacts(standin_yamnet, tmp_path_factory):
  root = tmp_path_factory.mktemp('clip_gate')
  model = standard_artifacts.Model()
  model.uri = str(root / 'model')
  always_dog = [np.zeros((1024, 512), np.float32), np.zeros(512, np.float32),
                np.zeros((512, 2), np.float32), np.array([1, 0], np.float32)]
  classifier_module.export_classifier(
      path_utils.serving_model_path(model.uri),
      loader.load_yamnet(standin_yamnet), always_dog, CLASSES)
  examples = standard_artifacts.Examples()
  examples.uri = str(root / 'examples')
  examples.split_names = json.dumps(['fold5'])
  os.makedirs(os.path.join(examples.uri, 'Split-fold5'))
  rng = np.random.default_rng(0)
  with tf.io.TFRecordWriter(
      os.path.join(examples.uri, 'Split-fold5', 'data.gz'),
      options='GZIP') as writer:
    for index, category in enumerate(LABELS):
      # Lengths vary, as real clips may, from under one patch to 2 s.
      waveform = rng.uniform(-0.5, 0.5, 8000 + 3000 * index)
      writer.write(_clip_example(waveform.astype(np.float32), category))
  return root, model, examples


def _evaluate(artifacts, min_accuracy, name):
  root, model, examples = artifacts
  evaluation = standard_artifacts.ModelEvaluation()
  evaluation.uri = str(root / name / 'evaluation')
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = str(root / name / 'blessing')
  evaluator_executor.Executor().Do(
      {'examples': [examples], 'model': [model]},
      {'evaluation': [evaluation], 'blessing': [blessing]},
      {'eval_config': proto_utils.proto_to_json(
          eval_configs.clip_eval_config(min_accuracy)),
       'example_splits': json.dumps(['fold5']),
       'module_path': eval_models.__name__})
  return evaluation.uri, bool(blessing.get_int_custom_property('blessed'))


def test_gate_is_on_overall_clip_accuracy_not_per_class(artifacts):
  uri, blessed = _evaluate(artifacts, 0.6, 'passing')
  metrics = evaluation_results.metrics_by_slice(uri)
  assert metrics['overall']['sparse_categorical_accuracy'] == pytest.approx(
      0.8)
  assert metrics['overall']['example_count'] == len(LABELS)
  # The cat clips all fail, yet a per-class slice does not gate.
  assert metrics['category = cat']['sparse_categorical_accuracy'] == 0.0
  assert metrics['category = dog']['sparse_categorical_accuracy'] == 1.0
  assert blessed
  assert evaluation_results.gate_failures(uri) == []
  assert evaluation_results.gate_reason(uri) == (
      'clip accuracy met the threshold; no earlier blessed model to compare '
      'with')
  np.testing.assert_array_equal(
      evaluation_results.confusion_matrix(uri, len(CLASSES)),
      [[8, 0], [2, 0]])


def test_gate_refuses_below_the_threshold_and_says_why(artifacts):
  uri, blessed = _evaluate(artifacts, 0.9, 'failing')
  assert not blessed
  assert evaluation_results.gate_reason(uri) == (
      'clip accuracy is 0.8000; required: at least 0.9')


def test_tfma_calls_the_signature_without_a_failed_binding_first(
    artifacts, monkeypatch):
  """TFMA passes the serialized clips positionally. Loaded through
  eval_models, the signature binds them at once, with the same answers; the
  plain SavedModel needs TF's fallback to the flat signature for that call
  (the fallback after an error message that prints the whole batch)."""
  _, model, examples = artifacts
  batch = tf.constant([record.numpy() for record in tf.data.TFRecordDataset(
      os.path.join(examples.uri, 'Split-fold5', 'data.gz'),
      compression_type='GZIP').take(3)])
  model_dir = path_utils.serving_model_path(model.uri)
  plain = tf.saved_model.load(model_dir)
  expected = plain.signatures[contract.CLIP_EVALUATION_SIGNATURE](
      examples=batch)['probabilities'].numpy()
  wrapped = eval_models.custom_eval_shared_model(
      model_dir, '', eval_configs.clip_eval_config(0.5)
  ).model_loader.construct_fn()

  def no_fallback(*unused_args):
    raise AssertionError('fell back to the flat signature')

  monkeypatch.setattr(concrete_function.ConcreteFunction,
                      '_call_with_flat_signature', no_fallback)
  got = model_util.get_callable(
      wrapped, contract.CLIP_EVALUATION_SIGNATURE)(batch)['probabilities']
  np.testing.assert_array_equal(got.numpy(), expected)
  with pytest.raises(AssertionError, match='flat signature'):
    model_util.get_callable(plain, contract.CLIP_EVALUATION_SIGNATURE)(batch)
