"""AtomicPusher's on-device models: converted, checked on the test clips and
pushed inside the version folder, or withheld with the reason."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from components import artifact_properties as properties
from components import splits
from components.atomic_pusher import executor
from components.atomic_pusher.component import AtomicPusher
from data import clip_examples
from serving import contract
from serving import tflite_check
from serving import tflite_export

import tfx_artifacts
import trained_classifier

TEST_FOLD = 5


@pytest.fixture(scope='module')
def trained(standin_yamnet, tmp_path_factory):
  """(the exported model artifact, clip Examples of its dataset, the test
  fold's waveforms)."""
  out = tmp_path_factory.mktemp('pusher-tflite')
  base, _ = trained_classifier.train_and_export(str(out), standin_yamnet)
  model = standard_artifacts.Model()
  model.uri = str(out / 'model')
  os.makedirs(model.uri)
  os.rename(os.path.join(base, '1'),
            os.path.join(model.uri, 'Format-Serving'))
  examples, _ = tfx_artifacts.run_example_gen(
      out, str(out / 'esc50'), trained_classifier.CLASSES)
  test_clips = [
      np.array(e.features.feature[clip_examples.AUDIO].float_list.value,
               np.float32)
      for e in tfx_artifacts.read_split(
          examples, splits.fold_split_name(TEST_FOLD))]
  return model, examples, test_clips


def _push(model, examples, tmp_path):
  blessings = {}
  for key, kind in (('model_blessing', standard_artifacts.ModelBlessing),
                    ('infra_blessing', standard_artifacts.InfraBlessing)):
    blessings[key] = [kind()]
    blessings[key][0].set_int_custom_property(properties.BLESSED, 1)
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / 'pushed')
  component = AtomicPusher(
      model=tfx.dsl.Channel(type=standard_artifacts.Model),
      examples=tfx.dsl.Channel(type=standard_artifacts.Examples),
      tflite_splits=[splits.fold_split_name(TEST_FOLD)],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=str(tmp_path / 'serving'))))
  executor.Executor().Do(
      {'model': [model], 'examples': [examples], **blessings},
      {'pushed_model': [pushed]}, dict(component.exec_properties))
  tflite_dir = os.path.join(
      pushed.get_string_custom_property(properties.PUSHED_DESTINATION),
      tflite_export.VERSION_SUBDIR)
  return pushed, tflite_dir


def _recorded_checks(pushed):
  return {c['variant']: c for c in json.loads(
      pushed.get_string_custom_property(properties.TFLITE))}


def test_push_carries_tflite_models_that_agree_with_the_saved_model(
    trained, tmp_path):
  model, examples, test_clips = trained
  pushed, tflite_dir = _push(model, examples, tmp_path)
  assert pushed.get_int_custom_property(properties.PUSHED) == 1
  checks = _recorded_checks(pushed)
  assert set(checks) == set(tflite_export.VARIANTS)
  assert {c['clips'] for c in checks.values()} == {len(test_clips)}
  with open(os.path.join(tflite_dir, tflite_export.CHECKS_FILE)) as f:
    assert {c['variant']: c for c in json.load(f)} == checks
  # Recomputed here: each pushed variant against the pushed SavedModel on
  # every test clip, in the TFLite interpreter.
  version_dir = os.path.dirname(os.path.dirname(tflite_dir))
  serve = tf.saved_model.load(version_dir).signatures[
      contract.SERVING_SIGNATURE]
  expected = np.stack([serve(audio=tf.constant(w))['probabilities'].numpy()
                       for w in test_clips])
  assert checks[tflite_export.FLOAT]['passed']
  for variant, facts in checks.items():
    path = os.path.join(tflite_dir, tflite_export.file_name(variant))
    assert os.path.exists(path) == facts['passed'], variant
    if not facts['passed']:
      assert 'top-1 agrees with the SavedModel on' in facts['reason']
      continue
    with open(path, 'rb') as f:
      got = tflite_export.tflite_probabilities(f.read(), test_clips)
    agreement = np.mean(got.argmax(axis=1) == expected.argmax(axis=1))
    assert agreement >= tflite_check.MIN_TOP1_AGREEMENT
    assert agreement == pytest.approx(facts['top1_agreement'])
    if variant == tflite_export.FLOAT:
      np.testing.assert_allclose(
          got, expected, atol=tflite_check.MAX_PROBABILITY_DIFF)
  with open(os.path.join(tflite_dir, contract.LABELS_ASSET)) as f:
    assert f.read().split() == trained_classifier.CLASSES


def _flip_bytes(content: bytes) -> bytes:
  """Bytes inside the weights inverted: the file loads and answers."""
  middle = len(content) // 3
  return (content[:middle] + bytes(b ^ 0xFF for b in
                                   content[middle:middle + 100]) +
          content[middle + 100:])


@pytest.mark.parametrize('conversion, reasons', [
    # Weights overwritten: the model answers, wrongly. Truncated: TFLite's
    # interpreter either refuses the flatbuffer or crashes the process that
    # loads it, depending on where the bytes end; each variant is then
    # checked alone, so the float one's figures still come back.
    ('corrupted', {tflite_export.FLOAT: 'top-1 agrees with the SavedModel on',
                   tflite_export.INT8: ('killed by signal 11',
                                        'does not load in the TFLite')}),
    ('failed', {tflite_export.FLOAT: 'conversion failed',
                tflite_export.INT8: 'conversion failed'}),
])
def test_broken_conversion_withholds_the_tflite_files_not_the_model(
    trained, tmp_path, monkeypatch, conversion, reasons):
  model, examples, _ = trained
  real_convert = tflite_export.convert_loaded
  real_check = tflite_export._check_in_child  # pylint: disable=protected-access

  def shared_check_crashes(saved_model_dir, clips_json, paths,
                           timeout_seconds):
    """The process checking both variants at once dies, as the truncated
    flatbuffer can make it do; the checks of one variant each run."""
    if len(paths) > 1:
      return None, 'the check process was killed by signal 11 without a report'
    return real_check(saved_model_dir, clips_json, paths, timeout_seconds)

  def broken_convert(exported):
    if conversion == 'failed':
      raise RuntimeError('converter crashed')
    models = real_convert(exported)
    return {tflite_export.FLOAT: _flip_bytes(models[tflite_export.FLOAT]),
            tflite_export.INT8: models[tflite_export.INT8][:1000]}

  monkeypatch.setattr(tflite_export, 'convert_loaded', broken_convert)
  monkeypatch.setattr(tflite_export, '_check_in_child', shared_check_crashes)
  pushed, tflite_dir = _push(model, examples, tmp_path)
  assert pushed.get_int_custom_property(properties.PUSHED) == 1
  version_dir = os.path.dirname(os.path.dirname(tflite_dir))
  assert os.path.exists(os.path.join(version_dir, 'saved_model.pb'))
  assert os.listdir(tflite_dir) == [tflite_export.CHECKS_FILE]
  checks = _recorded_checks(pushed)
  for variant, reason in reasons.items():
    assert not checks[variant]['passed']
    assert any(r in checks[variant]['reason'] for r in (
        reason if isinstance(reason, tuple) else (reason,))), checks[
            variant]['reason']
