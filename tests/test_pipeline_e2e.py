"""The whole pipeline end to end on synthetic data with LocalDagRunner.

Runs share one output directory (one MLMD store, one serving directory), as a
scheduled pipeline does: a first run, an unchanged rerun, a run with another
YAMNet, and a run whose training labels are swapped.
"""

import csv
import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from yamnet import standin
from data import audio
from data import synthetic
from pipeline import local_runner
from pipeline import nodes
from serving import contract
from serving import tflite_export

from tfx_artifacts import latest_run
from tfx_artifacts import pushed_versions

TRAINED_COMPONENTS = ('Esc50ExampleGen', 'YamnetEmbeddingGen', 'Transform',
                      'Trainer')


def rerun(config, **changes):
  new_config = dataclasses.replace(config, **changes)
  return new_config, local_runner.run_local(new_config).to_json()


@pytest.fixture(scope='module')
def runs(demo_run, tmp_path_factory):
  """(first, unchanged rerun, swapped labels, other YAMNet) summaries."""
  config, first = demo_run
  first = first.to_json()
  versions_after_first = pushed_versions(config)
  _, cached = rerun(config)
  versions_after_rerun = pushed_versions(config)
  swapped_root = _swap_training_labels(config.data_root,
                                       tmp_path_factory.mktemp('swapped'))
  _, swapped = rerun(config, data_root=swapped_root)
  versions_after_swapped = pushed_versions(config)
  other_yamnet = standin.build_standin_yamnet(
      str(tmp_path_factory.mktemp('other') / 'yamnet'), seed=1)
  _, other = rerun(config, yamnet_handle=other_yamnet)
  return {
      'first': first, 'cached': cached, 'swapped': swapped, 'other': other,
      'versions': (versions_after_first, versions_after_rerun,
                   versions_after_swapped),
  }


def _swap_training_labels(data_root, out_dir):
  """The same audio, with dog and cat swapped on the training folds 1-3."""
  os.makedirs(out_dir / 'meta')
  os.symlink(os.path.join(data_root, 'audio'), out_dir / 'audio')
  with open(os.path.join(data_root, 'meta', 'esc50.csv')) as f:
    rows = list(csv.DictReader(f))
  swap = {'dog': ('cat', '5'), 'cat': ('dog', '0')}
  for row in rows:
    if int(row['fold']) <= 3:
      row['category'], row['target'] = swap[row['category']]
  with open(out_dir / 'meta' / 'esc50.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  return str(out_dir)


def test_first_run_completes_blessed_and_pushed(runs, demo_run):
  config, _ = demo_run
  first = runs['first']
  assert first['status'] == 'complete'
  assert all(c['status'] == 'complete' for c in first['components'].values())
  assert first['clips'] == {
      'listed': 30, 'embedded': 30, 'reused': 0, 'quarantined': 0,
      'patches': 300,
      'quarantined_decoding': 0, 'quarantined_embedding': 0}
  assert first['blessed'] is True
  # The gate's clip metrics: 6 test clips (fold 5) through the served model.
  clip_metrics = first['metrics']
  assert clip_metrics['example_count'] == 6
  assert clip_metrics['sparse_categorical_accuracy'] >= 0.9
  matrix = np.array(first['confusion_matrix']['matrix'])
  assert matrix.sum() == 6
  assert np.trace(matrix) / 6 == pytest.approx(
      clip_metrics['sparse_categorical_accuracy'])
  # Patch metrics are reported beside them: 10 patches per clip.
  assert first['patch_metrics']['example_count'] == 60
  assert set(first['per_class_precision_recall']) == {'dog', 'cat'}
  assert first['pushed']
  version = runs['versions'][0]
  assert len(version) == 1
  assert first['pushed_path'] == os.path.join(config.serving_model_dir,
                                              str(version[0]))


def test_pushed_model_classifies_held_out_clips(runs, demo_run, tmp_path):
  """The source recipe's code on the pushed directory, on unseen clips."""
  config, _ = demo_run
  synthetic.write_synthetic_esc50(str(tmp_path), classes=['dog', 'cat'],
                                  clips_per_class_per_fold=2, seed=1234)
  my_classes = ['dog', 'cat']
  reloaded_model = tf.saved_model.load(runs['first']['pushed_path'])
  labels = open(reloaded_model.labels_path().numpy().decode()).read().split()
  correct = 0
  with open(tmp_path / 'meta' / 'esc50.csv') as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    waveform = audio.read_waveform(str(tmp_path / 'audio' / row['filename']))
    reloaded_results = reloaded_model(waveform)
    predicted = labels[int(tf.math.argmax(reloaded_results))]
    serving = reloaded_model.signatures['serving_default'](
        tf.constant(waveform))
    np.testing.assert_allclose(serving['classifier'].numpy(),
                               reloaded_results.numpy(), atol=1e-5)
    correct += predicted == row['category']
  assert set(labels) == set(my_classes)
  accuracy = correct / len(rows)
  print(f'held-out synthetic clip accuracy: {accuracy:.3f} ({len(rows)} clips)')
  assert accuracy >= 0.9


def test_push_carries_the_tflite_models_that_passed_their_checks(runs):
  """The version folder holds exactly the variants the summary says passed,
  with the pushed model's class names; their checks ran on the 6 test
  clips."""
  first = runs['first']
  tflite_dir = os.path.join(first['pushed_path'], tflite_export.VERSION_SUBDIR)
  with open(os.path.join(tflite_dir, tflite_export.CHECKS_FILE)) as f:
    assert json.load(f) == first['tflite']
  assert {c['variant'] for c in first['tflite']} == set(
      tflite_export.VARIANTS)
  passed = [c['variant'] for c in first['tflite'] if c['passed']]
  # The float variant computes what the SavedModel does.
  assert tflite_export.FLOAT in passed
  for check in first['tflite']:
    assert check['clips'] == 6 or not check['passed'], check
  assert sorted(os.listdir(tflite_dir)) == sorted(
      [tflite_export.CHECKS_FILE, contract.LABELS_ASSET] +
      [tflite_export.file_name(v) for v in passed])
  model = tf.saved_model.load(first['pushed_path'])
  with open(os.path.join(tflite_dir, contract.LABELS_ASSET)) as f:
    assert f.read().split() == [
        n.decode() for n in model.class_names.numpy()]


def test_unchanged_rerun_is_served_from_cache(runs):
  cached = runs['cached']['components']
  for name in TRAINED_COMPONENTS + ('embedding_schema', 'clip_validator',
                                    'embedding_validator', 'ValidationGate',
                                    'patch_evaluator'):
    assert cached[name]['status'] == 'cached', name
  assert runs['cached']['run_id'] != runs['first']['run_id']
  # The same model is not pushed again as a new version.
  assert runs['versions'][1] == runs['versions'][0]


def test_worse_model_is_not_pushed(runs):
  swapped = runs['swapped']
  assert swapped['status'] == 'complete'
  assert swapped['components']['Trainer']['status'] == 'complete'
  assert swapped['blessed'] is False
  assert 'clip accuracy is ' in swapped['blessing_reason']
  assert 'required: at least' in swapped['blessing_reason']
  assert swapped['pushed'] is False
  assert runs['versions'][2] == runs['versions'][0]


def test_another_yamnet_invalidates_cached_embeddings(runs):
  other = runs['other']['components']
  assert other['Esc50ExampleGen']['status'] == 'cached'
  assert other['YamnetEmbeddingGen']['status'] == 'complete'
  assert runs['other']['yamnet']['fingerprint'] != runs['first']['yamnet'][
      'fingerprint']


def test_transform_computes_no_statistics_of_its_own(runs, demo_run):
  """The embeddings' statistics are computed and validated before Transform,
  so Transform writes its graph and the transformed patches only (with
  statistics on, its analysis would read every embedding, not the labels)."""
  config, _ = demo_run
  run = latest_run(config)
  assert runs['other']['components']['Transform']['status'] == 'complete'
  outputs = run.nodes[nodes.TRANSFORM].outputs
  assert outputs['transform_graph'] and outputs['transformed_examples']
  assert not [key for key in outputs
              if key.endswith(('_stats', '_schema', '_anomalies'))], outputs


def test_clip_statistics_cover_exactly_the_curated_clip_features(demo_run):
  """clip_statistics reads only the features the clip schema names (not the
  audio), and still sees every clip of every split."""
  from components import examples_io  # pylint: disable=g-import-not-at-top
  from data import clip_examples  # pylint: disable=g-import-not-at-top
  from data import record_files  # pylint: disable=g-import-not-at-top
  from tfx.components.statistics_gen import stats_artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import artifact_utils  # pylint: disable=g-import-not-at-top
  config, _ = demo_run
  run = latest_run(config)
  statistics = run.single(nodes.CLIP_STATISTICS, 'statistics')
  examples = run.single(nodes.EXAMPLE_GEN, 'examples')
  splits = artifact_utils.decode_split_names(statistics.split_names)
  assert splits == artifact_utils.decode_split_names(examples.split_names)
  for split in splits:
    (dataset,) = stats_artifact_utils.load_statistics(
        statistics, split).proto().datasets
    assert {f.path.step[0] for f in dataset.features} == set(
        clip_examples.VALIDATED_FEATURES), split
    assert dataset.num_examples == record_files.count_records(
        examples_io.split_files(examples, [split])), split
