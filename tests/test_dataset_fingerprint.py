"""ExampleGen's cache key follows the dataset: CSV and every audio file."""

import os
import time

from data import datasets
from data import synthetic

_fingerprint = datasets.fingerprint


def test_changed_or_new_clips_change_the_fingerprint(tmp_path):
  root = str(tmp_path)
  synthetic.write_synthetic_esc50(root, clips_per_class_per_fold=1,
                                  duration_s=0.5)
  first = _fingerprint(root)
  assert _fingerprint(root) == first  # Unchanged data: same key, cache hit.

  clip = os.path.join(root, 'audio', sorted(os.listdir(
      os.path.join(root, 'audio')))[0])
  later = time.time() + 5
  os.utime(clip, (later, later))
  touched = _fingerprint(root)
  assert touched != first

  with open(os.path.join(root, 'audio', '9-999-A-0.wav'), 'wb') as f:
    f.write(b'new clip')
  assert _fingerprint(root) != touched

  csv_path = os.path.join(root, 'meta', 'esc50.csv')
  before_csv = _fingerprint(root)
  with open(csv_path, 'a') as f:
    f.write('\n')
  assert _fingerprint(root) != before_csv


def test_a_clip_deep_in_a_class_folder_changes_the_fingerprint(tmp_path):
  (tmp_path / 'dog' / 'park' / 'morning').mkdir(parents=True)
  (tmp_path / 'dog' / 'park' / 'morning' / 'a.wav').write_bytes(b'1')
  first = _fingerprint(str(tmp_path))
  (tmp_path / 'dog' / 'park' / 'morning' / 'a.wav').write_bytes(b'22')
  assert _fingerprint(str(tmp_path)) != first
