"""Tests for data/synthetic.py: ESC-50 layout, determinism, separability."""

import collections
import csv
import os

import numpy as np
import pytest
import soundfile

from data import audio
from data import esc50_classes
from data import synthetic

_HEADER = ['filename', 'fold', 'target', 'category', 'esc10', 'src_file',
           'take']


def _read_rows(csv_path: str) -> list[dict[str, str]]:
  with open(csv_path, newline='') as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == _HEADER
    return list(reader)


def _tree_bytes(root: str) -> dict[str, bytes]:
  contents = {}
  for directory, _, files in os.walk(root):
    for name in files:
      path = os.path.join(directory, name)
      with open(path, 'rb') as f:
        contents[os.path.relpath(path, root)] = f.read()
  return contents


def _mel_filterbank(num_fft_bins: int, num_bands: int = 64) -> np.ndarray:
  """Triangular 125-7500 Hz mel filters at 16 kHz, like YAMNet's front end."""
  mel = lambda hz: 1127.0 * np.log1p(hz / 700.0)
  edges = 700.0 * np.expm1(
      np.linspace(mel(125.0), mel(7500.0), num_bands + 2) / 1127.0)
  frequencies = np.linspace(0, audio.TARGET_SAMPLE_RATE / 2,
                            num_fft_bins)[:, None]
  rising = (frequencies - edges[:-2]) / (edges[1:-1] - edges[:-2])
  falling = (edges[2:] - frequencies) / (edges[2:] - edges[1:-1])
  return np.maximum(0.0, np.minimum(rising, falling))


def _mean_log_mel(path: str, filterbank: np.ndarray) -> np.ndarray:
  """Time-averaged log-mel spectrum, with the clip's gain divided out."""
  with open(path, 'rb') as f:
    waveform = audio.to_mono_16k(*audio.decode_audio(f.read()))
  frames = np.lib.stride_tricks.sliding_window_view(waveform, 400)[::160]
  power = np.abs(np.fft.rfft(frames * np.hanning(400), n=512))**2
  log_mel = np.log(power @ filterbank + 1e-6).mean(axis=0)
  return log_mel - log_mel.mean()


def test_writes_esc50_layout_and_rows(tmp_path):
  csv_path = synthetic.write_synthetic_esc50(
      str(tmp_path), classes=('cat', 'dog', 'rain'), clips_per_class_per_fold=2,
      duration_s=0.2)

  assert csv_path == str(tmp_path / 'meta' / 'esc50.csv')
  with open(csv_path) as f:
    assert f.readline() == 'filename,fold,target,category,esc10,src_file,take\n'
  rows = _read_rows(csv_path)
  assert len(rows) == 3 * 5 * 2
  assert sorted(os.listdir(tmp_path / 'audio')) == sorted(
      row['filename'] for row in rows)
  assert {row['fold'] for row in rows} == {'1', '2', '3', '4', '5'}
  assert len({row['src_file'] for row in rows}) == len(rows)
  for row in rows:
    assert row['target'] == str(esc50_classes.target_of(row['category']))
    assert row['esc10'] == str(row['category'] in esc50_classes.ESC10_CLASSES)
    assert row['take'] == 'A'
    assert row['filename'] == (
        f"{row['fold']}-{row['src_file']}-A-{row['target']}.wav")
  assert {(row['category'], row['esc10']) for row in rows} == {
      ('cat', 'False'), ('dog', 'True'), ('rain', 'True')}
  clips_per_class_and_fold = collections.Counter(
      (row['category'], row['fold']) for row in rows)
  assert set(clips_per_class_and_fold.values()) == {2}


def test_default_clips_are_esc50_wavs_in_unit_range(tmp_path):
  csv_path = synthetic.write_synthetic_esc50(str(tmp_path))

  rows = _read_rows(csv_path)
  assert len(rows) == len(esc50_classes.DEFAULT_CLASSES) * 5 * 2
  for row in rows:
    path = str(tmp_path / 'audio' / row['filename'])
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (
        44100, 1, 'PCM_16', 5 * 44100)
    samples, _ = soundfile.read(path)
    assert 0.29 < np.max(np.abs(samples)) < 0.81


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
  def generate(name, seed):
    root = str(tmp_path / name)
    synthetic.write_synthetic_esc50(root, seed=seed, duration_s=0.5)
    return _tree_bytes(root)

  first = generate('first', seed=0)
  again = generate('again', seed=0)
  other_seed = generate('other_seed', seed=1)

  assert first == again
  assert first.keys() == other_seed.keys()
  assert first['meta/esc50.csv'] == other_seed['meta/esc50.csv']
  wavs = [name for name in first if name.endswith('.wav')]
  assert all(first[name] != other_seed[name] for name in wavs)


def test_class_order_does_not_change_a_class_sound(tmp_path):
  def clip_bytes_by_class_and_fold(name, classes):
    root = str(tmp_path / name)
    csv_path = synthetic.write_synthetic_esc50(
        root, classes, clips_per_class_per_fold=1, duration_s=0.3)
    audio_bytes = _tree_bytes(os.path.join(root, 'audio'))
    return {(row['category'], row['fold']): audio_bytes[row['filename']]
            for row in _read_rows(csv_path)}

  forward = clip_bytes_by_class_and_fold('forward', ('dog', 'cat', 'rain'))
  backward = clip_bytes_by_class_and_fold('backward', ('rain', 'cat', 'dog'))

  assert len(forward) == 15
  assert forward == backward


def test_all_fifty_classes(tmp_path):
  csv_path = synthetic.write_synthetic_esc50(
      str(tmp_path), classes=esc50_classes.ESC50_CLASSES,
      clips_per_class_per_fold=1, duration_s=0.1)

  rows = _read_rows(csv_path)
  assert len(rows) == 50 * 5
  assert len(os.listdir(tmp_path / 'audio')) == 50 * 5
  for fold in '12345':
    fold_rows = [row for row in rows if row['fold'] == fold]
    assert [row['category'] for row in fold_rows] == list(
        esc50_classes.ESC50_CLASSES)
    assert [int(row['target']) for row in fold_rows] == list(range(50))
  assert sorted({row['category'] for row in rows if row['esc10'] == 'True'
                }) == sorted(esc50_classes.ESC10_CLASSES)


def test_classes_are_separable_on_log_mel_spectra(tmp_path):
  csv_path = synthetic.write_synthetic_esc50(
      str(tmp_path), classes=esc50_classes.ESC10_CLASSES,
      clips_per_class_per_fold=1, duration_s=1.0)
  rows = _read_rows(csv_path)
  filterbank = _mel_filterbank(257)
  spectra = np.stack([
      _mean_log_mel(str(tmp_path / 'audio' / row['filename']), filterbank)
      for row in rows])
  labels = np.array([row['category'] for row in rows])

  distances = np.sqrt(
      ((spectra[:, None, :] - spectra[None, :, :])**2).mean(axis=-1))
  same_class = labels[:, None] == labels[None, :]
  np.fill_diagonal(same_class, False)
  different_class = labels[:, None] != labels[None, :]

  # Every clip is nearest to its own class's centroid (leave-one-out), and
  # classes are far apart on average.
  for i, label in enumerate(labels):
    others = np.arange(len(labels)) != i
    centroids = {c: spectra[others & (labels == c)].mean(axis=0)
                 for c in set(labels)}
    nearest = min(centroids, key=lambda c: np.sum(
        (spectra[i] - centroids[c])**2))
    assert nearest == label, rows[i]['filename']
  assert distances[different_class].mean() > 4 * distances[same_class].mean()


@pytest.mark.parametrize('kwargs, message', [
    ({'classes': ('dog', 'unicorn')}, 'Unknown ESC-50 class'),
    ({'classes': ('dog',)}, 'at least two classes'),
    ({'clips_per_class_per_fold': 0}, 'clips_per_class_per_fold'),
    ({'sample_rate': 8000}, 'sample_rate'),
    ({'duration_s': 0.0}, 'duration_s'),
])
def test_rejects_invalid_arguments(tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=message):
    synthetic.write_synthetic_esc50(str(tmp_path), **kwargs)
