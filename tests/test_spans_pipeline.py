"""A growing dataset of your own: class folders in spans, run on a schedule.

One output directory (one MLMD store, one serving directory) across runs, as
a scheduled pipeline keeps it: span 1 with two classes whose names are not
ESC-50's; span 2 adds a third class; reruns with nothing new; a one-span
window; span 1 rewritten.
"""

import collections
import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_component_specs as keys
from tfx.utils import path_utils

from components import artifact_properties as properties
from components import span_reuse
from data import audio
from data import datasets
from data import folds
from data import synthetic
from models import hyperparameters
from pipeline import configs
from pipeline import local_runner
from pipeline import mlmd_runs
from pipeline import nodes
from pipeline import report_data
from pipeline import run_summary
from tfx_artifacts import latest_run
from tfx_artifacts import pushed_versions
from tfx_artifacts import read_split
from yamnet import standin

FIRST = ('café ☕', 'kettle')
ALL = FIRST + ('Türklingel',)
SOURCES, TAKES = 6, 2


def _write_span(root, span, classes):
  synthetic.write_synthetic_folders(
      str(root / f'week-{span}'), classes, sources_per_class=SOURCES,
      takes=TAKES, duration_s=5.0, seed=span, all_classes=ALL)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp('sounds')
  _write_span(root, 1, FIRST)
  config = configs.PipelineConfig(
      data_root=str(root / 'week-{SPAN}'),
      yamnet_handle=standin.build_standin_yamnet(
          str(tmp_path_factory.mktemp('yamnet') / 'yamnet'), seed=0),
      classes=('all',), output_dir=str(tmp_path_factory.mktemp('out')),
      hyperparameters=hyperparameters.Hyperparameters(epochs=10),
      # The Pusher's TFLite models are tested in test_pipeline_e2e.py.
      export_tflite=False)
  result = {'config': config, 'root': root}

  def run(name, **changes):
    summary = local_runner.run_local(dataclasses.replace(config, **changes))
    result[name] = (summary, latest_run(config), pushed_versions(config))

  run('first')
  _write_span(root, 2, ALL)
  run('second')
  run('unchanged')
  run('unchanged_again')
  run('window', span_window=1)
  later = 4e9
  for path in (root / 'week-1' / 'kettle').glob('rec-0-*'):
    os.utime(path, (later, later))
  run('span1_rewritten')
  return result


def _clips_in(root, span, classes):
  return sum(1 for row in datasets.read_dataset(str(root / f'week-{span}')).rows
             if row.category in classes)


def test_first_span_trains_on_the_folder_names(runs):
  summary, _, versions = runs['first']
  assert summary.status == 'complete' and summary.pushed
  assert summary.dataset.layouts == [datasets.FOLDERS_LAYOUT]
  assert summary.dataset.classes == sorted(FIRST)
  # Each class folder's notes file and the file in the hidden folder.
  assert summary.dataset.files_ignored == len(FIRST) + 1
  assert summary.spans.trained_on == [1] and summary.spans.embedded == [1]
  assert summary.clips.embedded == summary.clips.listed == len(FIRST) * 12
  assert summary.clips.reused == 0
  assert len(versions) == 1


def test_a_source_recordings_clips_share_a_fold(runs):
  _, run, _ = runs['first']
  examples = run.single(nodes.EXAMPLE_GEN, 'examples')
  fold_of = collections.defaultdict(set)
  for split in ('fold1', 'fold2', 'fold3', 'fold4', 'fold5'):
    for clip in read_split(examples, split):
      feature = clip.features.feature
      category = feature['category'].bytes_list.value[0].decode()
      in_class = feature['filename'].bytes_list.value[0].decode().split(
          '/', 2)[2]
      fold_of[(category, folds.source_of(in_class))].add(
          feature['fold'].int64_list.value[0])
  assert len(fold_of) == len(FIRST) * SOURCES
  assert all(len(f) == 1 for f in fold_of.values())


def test_a_new_span_is_the_only_one_embedded(runs):
  summary, run, versions = runs['second']
  new_clips = _clips_in(runs['root'], 2, ALL)
  assert summary.spans.trained_on == [1, 2]
  assert summary.spans.embedded == [2]
  assert summary.clips.embedded == new_clips
  assert summary.clips.reused == _clips_in(runs['root'], 1, ALL)
  assert summary.clips.listed == (summary.clips.embedded +
                                  summary.clips.reused +
                                  summary.clips.quarantined)
  # What MLMD recorded of the embedding execution: span 1 copied from the
  # first run's output.
  embeddings = run.single(nodes.EMBEDDING_GEN, 'embeddings')
  plan = mlmd_runs.json_property(embeddings, span_reuse.PLAN_KEY)
  first_embeddings = runs['first'][1].single(nodes.EMBEDDING_GEN, 'embeddings')
  assert list(plan['reuse']) == ['1']
  assert plan['reuse']['1']['embeddings'] == first_embeddings.uri
  assert mlmd_runs.int_property(embeddings, properties.CLIPS_EMBEDDED) == (
      new_clips)
  assert len(versions) == 2


def test_the_new_class_is_served_and_clips_are_classified(runs, tmp_path):
  summary, _, _ = runs['second']
  assert summary.dataset.classes == sorted(ALL)
  model = tf.saved_model.load(summary.pushed_path)
  names = [n.decode() for n in model.class_names.numpy()]
  assert sorted(names) == sorted(ALL)
  # Unseen recordings of every class, the new one included.
  synthetic.write_synthetic_folders(str(tmp_path), ALL, sources_per_class=4,
                                    takes=1, duration_s=5.0, seed=99,
                                    all_classes=ALL)
  rows = datasets.read_dataset(str(tmp_path)).rows
  correct = sum(
      names[int(np.argmax(model(audio.read_waveform(
          datasets.audio_path(str(tmp_path), row)))))] == row.category
      for row in rows)
  print(f'held-out clips of {len(ALL)} classes: {correct}/{len(rows)}')
  assert len(rows) == 12 and correct / len(rows) >= 0.8


def test_nothing_new_is_served_from_cache_and_pushes_nothing(runs):
  summary, _, versions = runs['unchanged']
  assert summary.clips.embedded == 0 and summary.spans.embedded == []
  for name in (nodes.EXAMPLE_GEN, nodes.EMBEDDING_GEN, nodes.TRANSFORM,
               nodes.TRAINER):
    assert summary.components[name].status == 'cached', name
  assert versions == runs['second'][2]
  # Once the pushed model is the baseline, every component is cached (the
  # resolvers resolve again in every run).
  again, _, versions = runs['unchanged_again']
  assert {name for name, c in again.components.items()
          if c.status != 'cached'} <= {nodes.MODEL_RESOLVER,
                                       nodes.WARM_START_RESOLVER}
  assert versions == runs['second'][2]


def _training_record(runs, name):
  model_run = runs[name][1].single(nodes.TRAINER, keys.MODEL_RUN_KEY)
  return model_run.uri, hyperparameters.read_record(model_run.uri)


def test_a_run_on_grown_data_starts_from_the_last_blessed_model(runs):
  """The window run's classes are those of the second run's model, trained on
  other clips: its head starts there and trains fewer epochs. The first run
  had nothing to start from; the second has a class no model knew."""
  for name in ('first', 'second'):
    assert _training_record(runs, name)[1][
        hyperparameters.WARM_START_FROM] is None, name
  second_model = runs['second'][1].single(nodes.TRAINER, keys.MODEL_KEY)
  logs, window = _training_record(runs, 'window')
  assert window[hyperparameters.WARM_START_FROM] == (
      path_utils.serving_model_path(second_model.uri))
  epochs = len(report_data.training_history(logs)['validation loss'])
  assert epochs <= window['warm_start_epochs'] < window['epochs']


def test_the_window_trains_on_the_last_spans_only(runs):
  summary, run, _ = runs['window']
  assert summary.spans.trained_on == [2] and summary.spans.embedded == []
  assert summary.clips.listed == _clips_in(runs['root'], 2, ALL)
  assert summary.components[nodes.TRAINER].status == 'complete'
  examples = run.single(nodes.EXAMPLE_GEN, 'examples')
  assert {r['span'] for r in mlmd_runs.json_property(
      examples, properties.SPANS)} == {2}


def test_a_rewritten_span_is_embedded_again_and_named(runs):
  summary, _, _ = runs['span1_rewritten']
  assert summary.spans.changed == [1]
  assert summary.spans.embedded == [1]
  assert summary.clips.embedded == _clips_in(runs['root'], 1, ALL)
  assert 'span(s) [1] changed' in run_summary.format_summary(summary)
