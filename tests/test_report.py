"""The HTML report of a run: written, self-contained, and holding its numbers.

Reads the session's demo run (no extra pipeline runs). Later tests may rerun
the pipeline in the same output directory, so the checks use the run's own
report (summary.report_path), not the latest copy.
"""

import collections
import html
import os
import re
import subprocess
from xml.etree import ElementTree

import numpy as np
import pytest
import tensorflow as tf

from data import audio
from data import datasets
from data import esc50_csv
from pipeline import run_summary

CHROMIUM = '/usr/bin/chromium'


@pytest.fixture(scope='module')
def page(demo_run):
  _, summary = demo_run
  with open(summary.report_path, encoding='utf-8') as f:
    return f.read()


def test_report_is_written_beside_the_outputs(demo_run):
  config, summary = demo_run
  path = summary.report_path
  assert os.path.dirname(path) == os.path.join(config.output_dir, 'reports')
  assert os.path.isfile(os.path.join(config.output_dir, 'report.html'))
  assert f'Report: {path}' in run_summary.format_summary(summary)


def test_report_is_self_contained(page):
  links = re.findall(r'''(?:src|href)\s*=\s*["']?([^"'\s>]*)''', page, re.I)
  assert not [link for link in links
              if re.match(r'(https?:)?//', link.strip(), re.I)]
  for fetching in ('<script', '<link', '<iframe', '@import', 'url('):
    assert fetching not in page.lower()


def test_every_chart_is_well_formed_svg(page):
  charts = re.findall(r'<svg.*?</svg>', page, re.S)
  # Loss, accuracy, confusion matrix, per-class bars, a clip per class.
  assert len(charts) == 4 + 2
  for chart in charts:
    ElementTree.fromstring(chart)


def test_report_holds_the_runs_numbers(demo_run, page):
  config, summary = demo_run
  assert f'{summary.clips.listed} listed' in page
  accuracy = summary.metrics['sparse_categorical_accuracy']
  assert f'<td>{accuracy:.4f}</td>' in page
  version = os.path.basename(summary.pushed_path.rstrip('/'))
  assert f'Pushed version <b>{version}</b>' in page
  assert summary.tflite
  for check in summary.tflite:
    pushed = 'yes' if check.passed else 'no'
    assert (f'<tr><td class="text">{check.variant}</td><td class="text">'
            f'{pushed}</td><td>{check.size_bytes / 1e6:.1f}</td>') in page
    assert html.escape(check.reason) in page
  assert 'blessed' in page
  assert html.escape(summary.blessing_reason) in page
  rows = datasets.select(esc50_csv.read_esc50_csv(config.data_root),
                         config.classes)
  for name in config.classes:
    per_fold = [sum(1 for r in rows if r.category == name and r.fold == fold)
                for fold in range(1, 6)]
    cells = ''.join(f'<td>{n}</td>' for n in per_fold + [sum(per_fold)])
    assert f'<tr><td>{name}</td>{cells}</tr>' in page


def test_training_curves_cover_every_epoch(page):
  epochs = int(re.search(r'(\d+) epochs; early stopping chose epoch (\d+) .*'
                         r'trained afresh on the train and eval folds for '
                         r'\2 epochs', page).group(1))
  assert 1 <= epochs <= 10  # The demo run trains for at most 10 epochs.
  curves = ''.join(re.findall(
      r'<svg[^>]*aria-label="(?:Loss|Accuracy)[^"]*".*?</svg>', page, re.S))
  lines = re.findall(r'<polyline[^>]*points="([^"]*)"', curves)
  assert len(lines) == 4  # Train and validation, loss and accuracy.
  assert all(len(points.split()) == epochs for points in lines)


def test_confusion_matrix_is_the_pushed_models_clip_predictions(demo_run,
                                                                 page):
  config, summary = demo_run
  shown = collections.Counter()
  for true, predicted, count in re.findall(
      r'<title>(\w+) -> (\w+): (\d+)</title>', page):
    shown[(true, predicted)] += int(count)
  # Independently: the pushed model on the test fold's wav files.
  model = tf.saved_model.load(summary.pushed_path)
  names = [n.decode() for n in model.class_names.numpy()]
  expected = collections.Counter()
  for row in esc50_csv.read_esc50_csv(config.data_root):
    if row.fold in config.test_folds and row.category in config.classes:
      waveform = audio.read_waveform(datasets.audio_path(config.data_root,
                                                          row))
      expected[(row.category, names[int(np.argmax(model(waveform)))])] += 1
  assert +shown == expected
  clips = sum(expected.values())
  accuracy = sum(n for (t, p), n in expected.items() if t == p) / clips
  assert f'<b>{accuracy:.3f}</b> ({clips} clips' in page


def test_report_renders_in_headless_chromium(demo_run, tmp_path):
  if not os.path.exists(CHROMIUM):
    pytest.skip(f'{CHROMIUM} is absent: `apt-get install -y chromium` to '
                'check that the report renders')
  _, summary = demo_run
  screenshot = tmp_path / 'r.png'
  subprocess.run(
      [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
       '--disable-quic', '--no-first-run', '--disable-background-networking',
       '--disable-component-update', '--disable-sync',
       f'--user-data-dir={tmp_path / "profile"}',
       f'--screenshot={screenshot}', '--window-size=1200,2000',
       'file://' + os.path.abspath(summary.report_path)],
      check=True, capture_output=True, timeout=180)
  pixels = tf.io.decode_png(screenshot.read_bytes(), channels=3).numpy()
  assert pixels.shape[:2] == (2000, 1200)
  not_white = np.any(pixels < 250, axis=-1)
  assert not_white.mean() > 0.02
  # Charts draw in colour, not only black text on white.
  assert np.any(np.ptp(pixels.astype(int), axis=-1) > 60)


def test_clip_figures_show_the_models_timeline_of_each_classes_first_clip(
    demo_run, page):
  """One figure per class, of its first test clip by id; its per-patch
  probabilities recomputed from the pushed model on the wav file."""
  config, summary = demo_run
  model = tf.saved_model.load(summary.pushed_path)
  rows = [r for r in esc50_csv.read_esc50_csv(config.data_root)
          if r.fold in config.test_folds and r.category in config.classes]
  figures = dict(re.findall(
      r'<svg[^>]*aria-label="clip ([^"]+)"(.*?)</svg>', page, re.S))
  assert len(figures) == len(config.classes)
  for name in config.classes:
    row = min((r for r in rows if r.category == name),
              key=lambda r: r.clip_id)
    figure = figures[row.clip_id]
    timeline = model.signatures['serving_timeline'](audio=tf.constant(
        audio.read_waveform(datasets.audio_path(config.data_root, row))))
    names = [n.decode() for n in timeline['class_names'].numpy()]
    for class_name, seconds, shown in re.findall(
        r'<title>(\w+) at ([\d.]+) s: ([\d.]+)</title>', figure):
      patch = int(round((float(seconds) - 0.48) / 0.48))
      expected = timeline['probabilities'].numpy()[patch,
                                                   names.index(class_name)]
      assert float(shown) == pytest.approx(float(expected), abs=2e-4)
    assert len(re.findall(r'<title>', figure)) == 2 * len(
        timeline['start_s'].numpy())
