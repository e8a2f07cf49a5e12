"""Esc50ExampleGen's executor on a tiny synthetic dataset."""

import json
import os

import numpy as np
import pytest
from tfx.types import artifact_utils

from components import quarantine
from components import splits
from components.esc50_example_gen.component import Esc50ExampleGen
from data import audio
from data import synthetic
from tfx_artifacts import read_split
from tfx_artifacts import run_example_gen


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  """dog/cat/rooster, one clip per class and fold; rooster is not selected."""
  root = str(tmp_path_factory.mktemp('esc50'))
  synthetic.write_synthetic_esc50(root, classes=['dog', 'cat', 'rooster'],
                                  clips_per_class_per_fold=1, seed=3)
  return root


def test_one_example_per_clip_split_by_fold(tmp_path, dataset):
  examples, clips_quarantine = run_example_gen(tmp_path, dataset,
                                               ['dog', 'cat'])
  assert artifact_utils.decode_split_names(examples.split_names) == list(
      splits.ALL_FOLD_SPLITS)
  for fold in range(1, 6):
    clips = read_split(examples, f'fold{fold}')
    assert sorted(c.features.feature['category'].bytes_list.value[0]
                  for c in clips) == [b'cat', b'dog']
    assert {c.features.feature['fold'].int64_list.value[0]
            for c in clips} == {fold}
  assert examples.get_int_custom_property('clips_listed') == 10
  assert examples.get_int_custom_property('clips_quarantined') == 0
  assert quarantine.read_quarantine(clips_quarantine.uri) == []


def test_audio_is_16k_mono_as_decoded_by_data_audio(tmp_path, dataset):
  examples, _ = run_example_gen(tmp_path, dataset, ['dog', 'cat'])
  clip = read_split(examples, 'fold2')[0]
  features = clip.features.feature
  filename = features['filename'].bytes_list.value[0].decode()
  expected = audio.read_waveform(os.path.join(dataset, 'audio', filename))
  got = np.array(features['audio'].float_list.value, np.float32)
  assert got.shape == (80000,)
  np.testing.assert_array_equal(got, expected)
  assert features['source_sample_rate'].int64_list.value[0] == 44100
  assert features['source_channels'].int64_list.value[0] == 1
  assert features['num_samples'].int64_list.value[0] == 80000
  assert features['target'].int64_list.value[0] in (0, 5)


def _broken_copy(tmp_path, dataset):
  """The dataset with one listed file missing and one not audio at all."""
  root = tmp_path / 'broken'
  os.makedirs(root / 'audio')
  os.makedirs(root / 'meta')
  with open(os.path.join(dataset, 'meta', 'esc50.csv')) as f:
    csv_text = f.read()
  (root / 'meta' / 'esc50.csv').write_text(csv_text)
  names = sorted(os.listdir(os.path.join(dataset, 'audio')))
  dog_files = [n for n in names if n.endswith('-0.wav')]
  for name in names:
    os.symlink(os.path.join(dataset, 'audio', name), root / 'audio' / name)
  os.remove(root / 'audio' / dog_files[0])
  os.remove(root / 'audio' / dog_files[1])
  (root / 'audio' / dog_files[1]).write_bytes(b'this is not a wav file')
  return str(root), dog_files[:2]


def test_unusable_clips_are_quarantined_not_dropped(tmp_path, dataset):
  root, bad = _broken_copy(tmp_path, dataset)
  examples, clips_quarantine = run_example_gen(tmp_path, root, ['dog', 'cat'])
  records = quarantine.read_quarantine(clips_quarantine.uri)
  assert sorted(r['filename'] for r in records) == sorted(bad)
  reasons = {r['filename']: r['reason'] for r in records}
  assert 'file not found' in reasons[bad[0]]
  assert 'not a readable audio file' in reasons[bad[1]]
  written = sum(len(read_split(examples, s)) for s in splits.ALL_FOLD_SPLITS)
  listed = examples.get_int_custom_property('clips_listed')
  assert listed == 10
  assert listed == written + len(records)
  assert examples.get_int_custom_property('clips_quarantined') == 2


def test_too_many_unusable_clips_fail_the_run(tmp_path, dataset):
  root, _ = _broken_copy(tmp_path, dataset)
  with pytest.raises(RuntimeError, match='2 of 10 clips could not be used'):
    run_example_gen(tmp_path, root, ['dog', 'cat'], max_fraction=0.1)


def test_classes_are_an_exec_property(dataset):
  component = Esc50ExampleGen(data_root=dataset, classes=['dog', 'cat'],
                              max_quarantine_fraction=0.05)
  assert json.loads(component.exec_properties['classes']) == ['dog', 'cat']


def test_a_record_lost_by_the_write_fails_the_run(tmp_path, dataset,
                                                  monkeypatch):
  """As a Beam file sink that drops a record: an error, not a smaller split."""
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from components import examples_io  # pylint: disable=g-import-not-at-top
  from components.esc50_example_gen import executor  # pylint: disable=g-import-not-at-top
  write_clips = executor.WriteClips

  def losing_write(split_uri):
    keep = (lambda clip: b'dog' not in clip.features.feature[
        'category'].bytes_list.value) if 'fold2' in split_uri else (
            lambda clip: True)
    return beam.Filter(keep) | write_clips(split_uri)

  monkeypatch.setattr(executor, 'WriteClips', losing_write)
  with pytest.raises(examples_io.LostRecordsError,
                     match=r'holds 9 clips where 10 were produced \(fold2: 1 '
                     r'written of 2\)'):
    run_example_gen(tmp_path, dataset, ['dog', 'cat'])


def test_a_users_csv_with_new_categories_and_no_fold_column(tmp_path, dataset):
  """ESC-50's layout with a CSV of one's own: new names, folds by source."""
  root = tmp_path / 'mine'
  (root / 'meta').mkdir(parents=True)
  (root / 'audio').mkdir()
  wavs = sorted(os.listdir(os.path.join(dataset, 'audio')))[:6]
  lines = ['filename,target,category']
  for i, name in enumerate(wavs):
    os.symlink(os.path.join(dataset, 'audio', name), root / 'audio' / name)
    lines.append(f'{name},{i % 2},{("kettle", "doorbell")[i % 2]}')
  (root / 'meta' / 'esc50.csv').write_text('\ufeff' + '\r\n'.join(lines))
  examples, _ = run_example_gen(tmp_path / 'out', str(root), ['all'])
  clips = [c for s in splits.ALL_FOLD_SPLITS for c in read_split(examples, s)]
  assert sorted(c.features.feature['category'].bytes_list.value[0]
                for c in clips) == [b'doorbell'] * 3 + [b'kettle'] * 3
  assert json.loads(examples.get_string_custom_property('classes')) == [
      'doorbell', 'kettle']
  assert {c.features.feature['fold'].int64_list.value[0]
          for c in clips} <= {1, 2, 3, 4, 5}
