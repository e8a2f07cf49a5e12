"""ExampleGen's cache key follows the dataset: CSV and every audio file."""

import os
import time

from tfx.components.example_gen import utils

from components.esc50_example_gen.component import fold_input_config
from data import synthetic


def _fingerprint(root):
  fingerprint, _, _ = utils.calculate_splits_fingerprint_span_and_version(
      root, fold_input_config().splits)
  return fingerprint


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
