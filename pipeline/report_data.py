"""What the report reads back from a run's artifacts, beside MLMD."""

import collections
import os
from typing import Any, Dict, List, Sequence

import tensorflow as tf

from components import examples_io
from components import splits
from data import clip_examples
from data import record_files


def clip_counts(examples, classes: Sequence[str]) -> List[List[Any]]:
  """Rows of (class, clips in fold 1..5, total) from ExampleGen's output."""
  columns = record_files.read_columns(
      examples_io.split_files(examples, splits.ALL_FOLD_SPLITS),
      clip_examples.parse_spec([clip_examples.CATEGORY, clip_examples.FOLD]))
  counts = collections.Counter(
      zip((record_files.decode(c) for c in columns[clip_examples.CATEGORY]),
          columns[clip_examples.FOLD].tolist()))
  folds = [splits.fold_of_split(s) for s in splits.ALL_FOLD_SPLITS]
  rows = []
  for name in classes:
    per_fold = [counts[(name, fold)] for fold in folds]
    rows.append([name] + per_fold + [sum(per_fold)])
  return rows


def training_history(model_run_uri: str) -> Dict[str, List[float]]:
  """epoch_loss / epoch_accuracy per epoch from the Keras TensorBoard logs."""
  history = {}
  for subset in ('train', 'validation'):
    values: Dict[str, Dict[int, float]] = {}
    for path in sorted(tf.io.gfile.glob(
        os.path.join(model_run_uri, subset, 'events.out.tfevents.*'))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag in ('epoch_loss', 'epoch_accuracy'):
            values.setdefault(value.tag, {})[event.step] = float(
                tf.make_ndarray(value.tensor))
    for tag, by_step in values.items():
      history[f'{subset} {tag[len("epoch_"):]}'] = [
          by_step[step] for step in sorted(by_step)]
  return history
