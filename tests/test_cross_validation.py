"""5-fold cross-validation: protocol, embeddings computed once, the CLI.

Two cv runs share one output directory: the first through the Python API, the
second through `yamnet-pipeline cv --json`, which must reuse the embeddings.
"""

import contextlib
import io
import json

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
import numpy as np
import pytest
from tfx import v1 as tfx

from conftest import SHARED_ESC50
from conftest import SHARED_YAMNET
from conftest import require_shared
from data import datasets
from data import esc50_csv
from data import synthetic
from pipeline import cli
from models import hyperparameters
from pipeline import configs
from pipeline import cross_validation

CLASSES = ['dog', 'rooster', 'rain']


@pytest.fixture(scope='module')
def cv_runs(standin_yamnet, tmp_path_factory):
  """(config, first result, second result from the CLI's JSON)."""
  data_root = str(tmp_path_factory.mktemp('cv_data'))
  synthetic.write_synthetic_esc50(data_root, classes=CLASSES,
                                  clips_per_class_per_fold=2, seed=3)
  output = str(tmp_path_factory.mktemp('cv_output'))
  config = cross_validation.cv_config(configs.PipelineConfig(
      data_root=data_root, yamnet_handle=standin_yamnet, classes=CLASSES,
      output_dir=output,
      hyperparameters=hyperparameters.Hyperparameters(epochs=10)))
  first = cross_validation.cross_validate(config)
  stdout = io.StringIO()
  with contextlib.redirect_stdout(stdout):
    code = cli.main(['cv', '--data-root', data_root, '--yamnet',
                     standin_yamnet, '--classes', ','.join(CLASSES),
                     '--output', output, '--epochs', '10', '--json'])
  assert code == 0
  return config, first, json.loads(stdout.getvalue())


def test_every_fold_is_held_out_once_and_every_clip_tested_once(cv_runs):
  config, first, _ = cv_runs
  folds = [f['fold'] for f in first['per_fold']]
  assert folds == [1, 2, 3, 4, 5]
  assert [f['validation_fold'] for f in first['per_fold']] == [5, 1, 2, 3, 4]
  rows = datasets.select(esc50_csv.read_esc50_csv(config.data_root),
                         CLASSES)
  fold_of = {row.clip_id: row.fold for row in rows}
  tested = [p['clip_id'] for p in first['predictions']]
  assert sorted(tested) == sorted(fold_of)
  # Each clip is tested in the round that holds out its own fold.
  assert all(p['fold'] == fold_of[p['clip_id']] for p in first['predictions'])
  assert sum(f['clips'] for f in first['per_fold']) == len(rows)
  assert sum(c['clips'] for c in first['per_class'].values()) == len(rows)


def test_embeddings_are_computed_once_and_reused(cv_runs):
  config, first, second = cv_runs
  assert first['embeddings']['status'] == 'complete'
  assert second['embeddings']['status'] == 'cached'
  assert second['embeddings']['uri'] == first['embeddings']['uri']
  store = metadata_store.MetadataStore(
      tfx.orchestration.metadata.sqlite_metadata_connection_config(
          config.metadata_path))
  node = store.get_context_by_type_and_name(
      'node', f'{config.pipeline_name}.YamnetEmbeddingGen')
  states = sorted(e.last_known_state
                  for e in store.get_executions_by_context(node.id))
  assert states == [metadata_store_pb2.Execution.COMPLETE,
                    metadata_store_pb2.Execution.CACHED]


def test_json_has_the_documented_keys_and_accuracies_are_fractions(cv_runs):
  _, _, result = cv_runs
  for key in ('mean_clip_accuracy', 'std_clip_accuracy',
              'probe_mean_clip_accuracy', 'probe_std_clip_accuracy',
              'per_fold', 'per_class'):
    assert key in result
  values = [result['mean_clip_accuracy'], result['probe_mean_clip_accuracy']]
  for fold in result['per_fold']:
    assert set(fold) >= {'fold', 'clip_accuracy', 'probe_clip_accuracy',
                         'clips'}
    values += [fold['clip_accuracy'], fold['probe_clip_accuracy']]
  assert sorted(result['per_class']) == sorted(CLASSES)
  for facts in result['per_class'].values():
    values += [facts['clip_accuracy'], facts['probe_clip_accuracy']]
  assert all(0.0 <= value <= 1.0 for value in values)
  assert result['std_clip_accuracy'] == pytest.approx(
      np.std([f['clip_accuracy'] for f in result['per_fold']]))
  assert '83.75%' in result['reference']


def test_the_head_learns_the_synthetic_classes(cv_runs):
  _, first, second = cv_runs
  # Chance is 1/3; the synthetic classes are easy to separate.
  assert first['mean_clip_accuracy'] >= 0.8
  assert first['probe_mean_clip_accuracy'] >= 0.8
  # Same embeddings and seed: the CLI run reproduces the first one.
  assert second['per_fold'] == first['per_fold']


def test_clip_scores_average_each_clips_patches():
  ids, scores = cross_validation.clip_scores(
      np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]]),
      np.array(['b', 'b', 'a']))
  assert list(ids) == ['a', 'b']
  np.testing.assert_allclose(scores, [[0.0, 5.0], [2.0, 1.0]])


def test_probe_never_predicts_a_class_missing_from_training():
  rng = np.random.default_rng(0)
  train_x = np.concatenate([rng.normal(-2, 1, (20, 4)),
                            rng.normal(2, 1, (20, 4))])
  train_y = np.array([0] * 20 + [2] * 20)
  scores = cross_validation.probe_log_probabilities(
      train_x, train_y, rng.normal(0, 3, (10, 4)), num_classes=3)
  assert np.all(scores[:, 1] == -np.inf)
  assert set(scores.argmax(axis=1)) <= {0, 2}


def test_cv_without_data_root_is_a_usage_error(monkeypatch, capsys):
  monkeypatch.delenv('ESC50_ROOT', raising=False)
  assert cli.main(['cv']) == 2
  assert '--data-root' in capsys.readouterr().err


def test_dog_vs_cat_on_real_esc50_clips(tmp_path):
  """Slow: embeds 16 real clips with the real YAMNet, then 5 folds."""
  require_shared()
  config = cross_validation.cv_config(configs.PipelineConfig(
      data_root=str(SHARED_ESC50), yamnet_handle=str(SHARED_YAMNET),
      classes=['dog', 'cat'], output_dir=str(tmp_path)))
  result = cross_validation.cross_validate(config)
  print('\n' + cross_validation.format_result(result))
  assert len(result['predictions']) == 16
  assert len({p['clip_id'] for p in result['predictions']}) == 16
  # The lead's probe measured 0.95 on these clips; the head must not fall far.
  assert result['mean_clip_accuracy'] >= 0.8
