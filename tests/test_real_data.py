"""Real ESC-50 clips and real YAMNet weights from ../shared (skips without it).

Dog vs cat on ../shared/esc50-mini with ../shared/yamnet-savedmodel, through the
whole pipeline on LocalDagRunner, as the source recipe does.
"""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SHARED_ESC50
from conftest import SHARED_YAMNET
from conftest import require_shared
from data import audio
from pipeline import configs
from pipeline import local_runner
from serving import tflite_check
from serving import tflite_export


@pytest.fixture(scope='module')
def real_run(tmp_path_factory):
  require_shared()
  config = configs.PipelineConfig(
      data_root=str(SHARED_ESC50), yamnet_handle=str(SHARED_YAMNET),
      classes=['dog', 'cat'], output_dir=str(tmp_path_factory.mktemp('real')))
  return config, local_runner.run_local(config).to_json()


def _listed(category_set):
  with open(SHARED_ESC50 / 'meta' / 'esc50.csv') as f:
    return [row for row in csv.DictReader(f)
            if row['category'] in category_set]


def test_example_gen_and_embeddings_on_real_clips(real_run):
  _, summary = real_run
  clips = summary['clips']
  print(f"real data: {clips['listed']} dog/cat clips listed, "
        f"{clips['embedded']} embedded, {clips['patches']} patches")
  assert clips['listed'] == len(_listed({'dog', 'cat'})) == 16
  assert clips['embedded'] == 16 and clips['quarantined'] == 0
  # Every ESC-50 clip is 5 s: 10 YAMNet patches.
  assert clips['patches'] == 160
  assert summary['yamnet']['handle'] == str(SHARED_YAMNET)


def test_dog_vs_cat_end_to_end(real_run):
  _, summary = real_run
  assert summary['status'] == 'complete'
  accuracy = summary['metrics']['sparse_categorical_accuracy']
  print(f'real data: test-fold clip accuracy {accuracy:.3f}, blessed '
        f"{summary['blessed']} ({summary['blessing_reason']})")
  assert summary['blessed'] and summary['pushed']
  model = tf.saved_model.load(summary['pushed_path'])
  labels = open(model.labels_path().numpy().decode()).read().split()
  test_rows = [r for r in _listed({'dog', 'cat'}) if r['fold'] == '5']
  correct = sum(
      labels[int(tf.argmax(model(audio.read_waveform(
          os.path.join(SHARED_ESC50, 'audio', r['filename'])))))] ==
      r['category'] for r in test_rows)
  clip_accuracy = correct / len(test_rows)
  print(f'real data: test-fold clip accuracy {clip_accuracy:.3f} '
        f'({correct}/{len(test_rows)} clips)')
  assert clip_accuracy >= 0.6


@pytest.fixture(scope='module')
def real_span_runs(tmp_path_factory):
  """Dog and cat clips as two weekly spans of class folders; a run after
  each span arrives."""
  require_shared()
  root = tmp_path_factory.mktemp('sounds')
  rows = sorted(_listed({'dog', 'cat'}), key=lambda r: r['filename'])
  by_span = {1: rows[0::2], 2: rows[1::2]}

  def add_span(span):
    for row in by_span[span]:
      folder = root / f'week-{span}' / row['category']
      folder.mkdir(parents=True, exist_ok=True)
      (folder / f"{row['src_file']}-{row['take']}.wav").symlink_to(
          SHARED_ESC50 / 'audio' / row['filename'])

  config = configs.PipelineConfig(
      data_root=str(root / 'week-{SPAN}'), yamnet_handle=str(SHARED_YAMNET),
      classes=['all'], output_dir=str(tmp_path_factory.mktemp('real_spans')),
      export_tflite=False)
  add_span(1)
  first = local_runner.run_local(config)
  add_span(2)
  return by_span, first, local_runner.run_local(config)


def test_real_clips_in_class_folders_and_spans(real_span_runs):
  by_span, first, second = real_span_runs
  print(f'real spans: first run {first.clips}, second run {second.clips}')
  assert first.status == second.status == 'complete'
  assert first.dataset.classes == second.dataset.classes == ['dog', 'cat']
  assert first.clips.embedded == len(by_span[1])
  assert second.spans.trained_on == [1, 2] and second.spans.embedded == [2]
  assert second.clips.embedded == len(by_span[2])
  assert second.clips.reused == len(by_span[1])
  assert second.clips.patches == 10 * (len(by_span[1]) + len(by_span[2]))


def test_pushed_tflite_models_answer_as_the_saved_model_on_real_clips(
    real_run):
  """Both on-device variants of the real-YAMNet model were pushed, and on
  every dog and cat clip of esc50-mini (not only the test fold they were
  checked on) they pick the SavedModel's class."""
  _, summary = real_run
  for check in summary['tflite']:
    print(f"real data: TFLite {check['variant']} {check['size_bytes'] / 1e6:.1f}"
          f" MB, pushed {check['passed']}: {check['reason']}")
  assert {c['variant'] for c in summary['tflite'] if c['passed']} == set(
      tflite_export.VARIANTS)
  tflite_dir = os.path.join(summary['pushed_path'],
                            tflite_export.VERSION_SUBDIR)
  serve = tf.saved_model.load(summary['pushed_path']).signatures[
      'serving_default']
  waveforms = [audio.read_waveform(os.path.join(SHARED_ESC50, 'audio',
                                                r['filename']))
               for r in _listed({'dog', 'cat'})]
  expected = np.stack([serve(audio=tf.constant(w))['probabilities'].numpy()
                       for w in waveforms])
  for variant in tflite_export.VARIANTS:
    with open(os.path.join(tflite_dir, tflite_export.file_name(variant)),
              'rb') as f:
      got = tflite_export.tflite_probabilities(f.read(), waveforms)
    agreement = np.mean(got.argmax(axis=1) == expected.argmax(axis=1))
    largest = np.max(np.abs(got - expected))
    print(f'real data: TFLite {variant} on all {len(waveforms)} dog/cat clips:'
          f' top-1 agreement {agreement:.3f}, largest probability difference '
          f'{largest:.2g}')
    assert agreement >= tflite_check.MIN_TOP1_AGREEMENT
    if variant == tflite_export.FLOAT:
      assert largest <= tflite_check.MAX_PROBABILITY_DIFF
