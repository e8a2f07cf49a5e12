"""Offline demo inputs: synthetic ESC-50 clips and the stand-in YAMNet.

Both are written once under the output directory and reused, so a second
`yamnet-pipeline demo` with the same output is served from cache.
"""

import os
from typing import Sequence

from data import datasets
from data import esc50_classes
from data import synthetic
from yamnet import standin


def prepare_demo_inputs(output_dir: str, classes: Sequence[str],
                        clips_per_class_per_fold: int, seed: int):
  """Returns (data_root, yamnet_handle), creating them if absent.

  The synthetic dataset holds ESC-50 classes: `all` is all 50 of them.
  """
  if list(classes) == [datasets.ALL_CLASSES]:
    classes = esc50_classes.ESC50_CLASSES
  data_root = os.path.join(output_dir, 'synthetic-esc50')
  if not os.path.exists(os.path.join(data_root, 'meta', 'esc50.csv')):
    synthetic.write_synthetic_esc50(
        data_root, classes=classes,
        clips_per_class_per_fold=clips_per_class_per_fold, seed=seed)
  yamnet_dir = os.path.join(output_dir, 'yamnet-standin')
  if not os.path.exists(os.path.join(yamnet_dir, 'saved_model.pb')):
    standin.build_standin_yamnet(yamnet_dir, seed=seed)
  return data_root, yamnet_dir
