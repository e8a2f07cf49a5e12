"""Data roots in either layout, their folds and their spans."""

import collections
import os

import numpy as np
import pytest

from components.esc50_example_gen import spans as example_gen_spans
from data import audio
from data import datasets
from data import folds
from data import synthetic

CLASSES = ('café ☕', 'kettle', 'Türklingel')


@pytest.fixture(scope='module')
def folder_root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('folders'))
  synthetic.write_synthetic_folders(root, CLASSES, sources_per_class=4,
                                    takes=2, duration_s=0.5)
  return root


def test_the_folder_layout_is_detected_and_its_classes_are_folder_names(
    folder_root):
  dataset = datasets.read_dataset(folder_root)
  assert dataset.layout == datasets.FOLDERS_LAYOUT
  assert dataset.classes == sorted(CLASSES)
  assert len(dataset.rows) == 3 * 4 * 2
  # A notes file per class and the file in the hidden folder.
  assert dataset.files_ignored == 3 + 1
  assert {os.path.splitext(r.path)[1] for r in dataset.rows} == {
      '.wav', '.flac', '.ogg'}
  assert any('/more/' in r.path for r in dataset.rows)
  row = dataset.rows[0]
  samples, rate = audio.read_audio(datasets.audio_path(folder_root, row))
  assert rate == 22050 and np.any(samples)


def test_a_source_recording_never_straddles_folds(folder_root):
  folds_of = collections.defaultdict(set)
  for row in datasets.read_dataset(folder_root).rows:
    folds_of[(row.category, folds.source_of(row.filename.split('/', 1)[1]))
             ].add(row.fold)
  assert len(folds_of) == 3 * 4
  assert all(len(f) == 1 for f in folds_of.values())


def test_source_names_drop_extension_and_take():
  assert folds.source_of('rec-3-B.flac') == 'rec-3'
  assert folds.source_of('more/rec-3-A.wav') == 'more/rec-3'
  assert folds.source_of('take_12.wav') == 'take'
  assert folds.source_of('interview.wav') == 'interview'


def test_folds_do_not_move_when_clips_are_added(tmp_path, folder_root):
  before = {r.filename: r.fold for r in datasets.read_dataset(folder_root).rows}
  synthetic.write_synthetic_folders(str(tmp_path), CLASSES + ('zebra',),
                                    sources_per_class=6, takes=2,
                                    duration_s=0.1)
  after = {r.filename: r.fold for r in datasets.read_dataset(
      str(tmp_path)).rows}
  assert {name: after[name] for name in before} == before
  assert set(after.values()) == {1, 2, 3, 4, 5}


def test_all_means_every_class_found_and_unknown_names_list_them():
  found = datasets.class_order(CLASSES)
  assert datasets.resolve_classes(found, ['all']) == sorted(CLASSES)
  with pytest.raises(datasets.DatasetError, match='Its classes: .*kettle'):
    datasets.resolve_classes(found, ['kettle', 'dog'])
  with pytest.raises(datasets.DatasetError, match='at least two'):
    datasets.resolve_classes(['kettle'], ['all'])


def test_an_empty_folder_is_not_a_dataset(tmp_path):
  with pytest.raises(datasets.DatasetError, match='neither meta/esc50.csv'):
    datasets.read_dataset(str(tmp_path))


def test_spans_are_listed_in_order_and_windowed(tmp_path):
  for span in (10, 2, 1):
    synthetic.write_synthetic_folders(str(tmp_path / f'week-{span}'),
                                      ('a', 'b'), sources_per_class=1,
                                      takes=1, duration_s=0.1)
  (tmp_path / 'week-x').mkdir()
  pattern = str(tmp_path / 'week-{SPAN}')
  spans = datasets.span_roots(pattern)
  assert [s for s, _ in spans] == [1, 2, 10]
  assert [s for s, _ in datasets.window(spans, 2)] == [2, 10]
  assert datasets.window(spans, 0) == spans
  table = example_gen_spans.span_table(pattern, 0, ['all'])
  assert [t['root'] for t in table] == [r for _, r in spans]
  assert all(t['classes'] == ['a', 'b'] for t in table)
  clips, _ = example_gen_spans.list_clips(pattern, table)
  # Clips of different spans with the same file name stay apart.
  names = [row.filename for _, _, row in clips]
  assert len(set(names)) == len(names) == 6
  assert names[0].startswith('week-1/')
  with pytest.raises(datasets.DatasetError, match='no folder matches'):
    datasets.span_roots(str(tmp_path / 'month-{SPAN}'))
