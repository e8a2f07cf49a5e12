"""ServingModelValidator's executor refuses exports that would not serve.

Each check runs the real check process on a real SavedModel: one whose outputs
are NaN, one without serving_wav, and not a model at all. That a good export
is blessed is asserted on the demo pipeline's run (test_serving_signatures).
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.model_validator import executor
from components.model_validator.component import ServingModelValidator
from yamnet import loader
from serving import classifier_module
from serving import contract

CLASSES = ['dog', 'cat']


def _head(output_bias):
  rng = np.random.default_rng(0)
  return [rng.normal(0, 0.05, (1024, 512)).astype(np.float32),
          np.zeros(512, np.float32),
          rng.normal(0, 0.05, (512, 2)).astype(np.float32),
          np.asarray(output_bias, np.float32)]


@pytest.fixture(scope='module')
def yamnet(standin_yamnet):
  return loader.load_yamnet(standin_yamnet)


def _model_artifact(path):
  """A Trainer-style Model artifact whose export is at <uri>/Format-Serving."""
  model = standard_artifacts.Model()
  model.uri = str(path)
  return model, os.path.join(str(path), 'Format-Serving')


def _validate(tmp_path, model, model_blessed=True):
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = str(tmp_path / 'blessing')
  model_blessing = standard_artifacts.ModelBlessing()
  model_blessing.set_int_custom_property('blessed', int(model_blessed))
  executor.Executor().Do(
      {'model': [model], 'model_blessing': [model_blessing]},
      {'blessing': [blessing]}, {executor.TIMEOUT_KEY: 300})
  return blessing


def test_export_with_nan_outputs_is_not_blessed(tmp_path, yamnet):
  model, export_dir = _model_artifact(tmp_path / 'model')
  classifier_module.export_classifier(export_dir, yamnet,
                                      _head([np.nan, 0.0]), CLASSES)
  blessing = _validate(tmp_path, model)
  assert blessing.get_int_custom_property('blessed') == 0
  reason = blessing.get_string_custom_property('reason')
  assert ('serving_default on 1 s of silence: scores and probabilities are '
          'finite') in reason
  assert os.path.exists(os.path.join(blessing.uri, 'INFRA_NOT_BLESSED'))


def test_export_without_serving_wav_is_not_blessed(tmp_path, yamnet):
  """A model exported the old way: serving_default only."""
  model, export_dir = _model_artifact(tmp_path / 'model')
  labels = tmp_path / contract.LABELS_ASSET
  labels.write_text(''.join(f'{c}\n' for c in CLASSES))
  module = classifier_module.SoundClassifier(
      yamnet, _head([0.0, 0.0]), CLASSES, str(labels),
      classifier_module.yamnet_class_names(yamnet),
      contract.DEFAULT_MAX_AUDIO_SECONDS)
  tf.saved_model.save(module, export_dir, signatures={
      contract.SERVING_SIGNATURE: module.serve_waveform})
  blessing = _validate(tmp_path, model)
  assert blessing.get_int_custom_property('blessed') == 0
  reason = blessing.get_string_custom_property('reason')
  assert "serving_wav exists: the model has only ['serving_default']" in reason
  assert 'warm-up requests exist' in reason


def test_not_a_saved_model_is_not_blessed(tmp_path):
  model, export_dir = _model_artifact(tmp_path / 'model')
  os.makedirs(export_dir)
  blessing = _validate(tmp_path, model)
  assert blessing.get_int_custom_property('blessed') == 0
  assert blessing.get_string_custom_property('reason').startswith(
      'loads with tag serve: ')


def test_model_the_evaluator_rejected_is_not_checked(tmp_path):
  model, _ = _model_artifact(tmp_path / 'missing')
  blessing = _validate(tmp_path, model, model_blessed=False)
  assert blessing.get_int_custom_property('blessed') == 0
  assert blessing.get_string_custom_property('reason').startswith(
      'not checked: the Evaluator did not bless')


def test_crashing_check_process_is_a_failure(monkeypatch, tmp_path):
  """A check that dies (e.g. a segfaulting op) reports its stderr."""
  script = tmp_path / 'crash.py'
  script.write_text('import sys\nsys.stderr.write("Fatal: boom\\n")\n'
                    'sys.exit(139)\n')
  monkeypatch.setattr(executor, '_CHECK_SCRIPT', str(script))
  report = executor.run_servable_check(str(tmp_path), 60)
  assert not report['ok']
  assert report['failures'] == [
      'the check process exited with code 139 without a report: Fatal: boom']


def test_component_wires_model_and_blessing():
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  component = ServingModelValidator(
      model=tfx.dsl.Channel(type=standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=standard_artifacts.ModelBlessing))
  assert component.outputs['blessing'].type is standard_artifacts.InfraBlessing
  assert component.exec_properties[executor.TIMEOUT_KEY] == (
      executor.DEFAULT_TIMEOUT_SECONDS)
