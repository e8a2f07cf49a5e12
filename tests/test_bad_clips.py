"""Every kind of odd or broken clip has a defined fate: used or quarantined.

One dataset holds them all; ExampleGen and the embedding executor run once.
The invariant `listed = embedded + quarantined` is checked on the result.
"""

import csv
import os

import numpy as np
import pytest

from components import quarantine
from components import splits
from data import audio
from tfx_artifacts import run_embedding
from tfx_artifacts import read_split
from tfx_artifacts import run_example_gen

RATE = 44100


def _tone(seconds, rate=RATE, channels=1, level=0.5):
  t = np.arange(int(seconds * rate)) / rate
  mono = level * np.sin(2 * np.pi * 440 * t)
  return mono if channels == 1 else np.stack(
      [mono * (c + 1) / channels for c in range(channels)], axis=1)


def _wav(waveform, rate=RATE, subtype='PCM_16'):
  return audio.encode_wav(waveform, rate, subtype)


def _nan_wav():
  waveform = _tone(1.0).astype(np.float32)
  waveform[100] = np.nan
  return _wav(waveform, subtype='FLOAT')


# name -> (bytes or None for a missing file, expected fate).
CASES = {
    'missing': (None, 'file not found'),
    'empty': (b'', 'empty file'),
    'not_audio': (b'<html>not a wav</html>' * 10, 'not a readable audio file'),
    'truncated_header': (_wav(_tone(1.0))[:30], 'not a readable audio file'),
    'truncated_data': (_wav(_tone(5.0))[:100000], 'used'),
    'stereo': (_wav(_tone(5.0, channels=2)), 'used'),
    'six_channels': (_wav(_tone(5.0, channels=6)), 'used'),
    'pcm_u8': (_wav(_tone(5.0), subtype='PCM_U8'), 'used'),
    'pcm_24': (_wav(_tone(5.0), subtype='PCM_24'), 'used'),
    'pcm_32': (_wav(_tone(5.0), subtype='PCM_32'), 'used'),
    'float32': (_wav(_tone(5.0), subtype='FLOAT'), 'used'),
    'rate_8k': (_wav(_tone(5.0, rate=8000), rate=8000), 'used'),
    'rate_22k': (_wav(_tone(5.0, rate=22050), rate=22050), 'used'),
    'rate_48k': (_wav(_tone(5.0, rate=48000), rate=48000), 'used'),
    'shorter_than_a_patch': (_wav(_tone(0.5)), 'used'),
    'ten_minutes': (_wav(_tone(600.0, rate=16000), rate=16000), 'used'),
    'digital_silence': (_wav(np.zeros(RATE * 5)), 'digital silence'),
    'nan_samples': (_nan_wav(), 'NaN or Inf'),
}


@pytest.fixture(scope='module')
def outcome(tmp_path_factory, standin_yamnet):
  root = tmp_path_factory.mktemp('bad_clips')
  os.makedirs(root / 'audio')
  os.makedirs(root / 'meta')
  rows = []
  for index, (name, (data, _)) in enumerate(sorted(CASES.items())):
    category, target = ('dog', 0) if index % 2 == 0 else ('cat', 5)
    filename = f'{name}.wav'
    rows.append([filename, index % 5 + 1, target, category, 'False', index,
                 'A'])
    if data is not None:
      (root / 'audio' / filename).write_bytes(data)
  with open(root / 'meta' / 'esc50.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['filename', 'fold', 'target', 'category', 'esc10',
                     'src_file', 'take'])
    writer.writerows(rows)
  clips, clip_quarantine = run_example_gen(root / 'out', str(root),
                                           ['dog', 'cat'], max_fraction=0.5)
  embeddings, embedding_quarantine = run_embedding(root / 'out', clips,
                                                   standin_yamnet)
  return clips, clip_quarantine, embeddings, embedding_quarantine


def _clip_features(clips):
  return {c.features.feature['clip_id'].bytes_list.value[0].decode():
          c.features.feature for split in splits.ALL_FOLD_SPLITS
          for c in read_split(clips, split)}


@pytest.mark.parametrize('name', sorted(CASES))
def test_each_clip_is_used_or_quarantined_with_its_reason(outcome, name):
  clips, clip_quarantine, _, _ = outcome
  expected = CASES[name][1]
  reasons = {r['clip_id']: r['reason']
             for r in quarantine.read_quarantine(clip_quarantine.uri)}
  decoded = _clip_features(clips)
  if expected == 'used':
    assert name in decoded and name not in reasons
    waveform = np.array(decoded[name]['audio'].float_list.value)
    assert np.all(np.isfinite(waveform)) and np.max(np.abs(waveform)) <= 1.0
  else:
    assert name not in decoded
    assert expected in reasons[name]


def test_odd_formats_are_converted_to_16k_mono(outcome):
  clips, _, _, _ = outcome
  decoded = _clip_features(clips)
  for name in ('stereo', 'six_channels', 'pcm_u8', 'pcm_24', 'pcm_32',
               'float32', 'rate_8k', 'rate_22k', 'rate_48k'):
    assert decoded[name]['num_samples'].int64_list.value[0] == 80000, name
  assert decoded['six_channels']['source_channels'].int64_list.value[0] == 6
  assert decoded['rate_8k']['source_sample_rate'].int64_list.value[0] == 8000
  assert decoded['shorter_than_a_patch']['num_samples'].int64_list.value[
      0] == 8000
  assert decoded['ten_minutes']['duration_s'].float_list.value[0] == 600.0


def test_listed_equals_embedded_plus_quarantined(outcome):
  clips, clip_quarantine, embeddings, embedding_quarantine = outcome
  listed = clips.get_int_custom_property('clips_listed')
  quarantined = (len(quarantine.read_quarantine(clip_quarantine.uri)) +
                 len(quarantine.read_quarantine(embedding_quarantine.uri)))
  embedded = embeddings.get_int_custom_property('clips_embedded')
  assert listed == len(CASES)
  assert embedded == sum(1 for _, fate in CASES.values() if fate == 'used')
  assert listed == embedded + quarantined


def test_patch_counts_follow_clip_length(outcome):
  _, _, embeddings, _ = outcome
  patches = {}
  for split in splits.ALL_FOLD_SPLITS:
    for patch in read_split(embeddings, split):
      features = patch.features.feature
      patches[features['clip_id'].bytes_list.value[0].decode()] = (
          features['num_patches'].int64_list.value[0])
  assert patches['shorter_than_a_patch'] == 1
  assert patches['stereo'] == 10
  # 10 min at 16 kHz: 1 + ceil((9,600,000 - 15,600) / 7,680) patches.
  assert patches['ten_minutes'] == 1249
