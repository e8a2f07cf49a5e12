"""Reads the pipeline's split Examples artifacts back into numpy.

The Trainer and cross-validation read YAMNet embeddings, and the run report
reads clip facts, straight from the artifacts the pipeline wrote, so each sees
exactly the data the components produced (TFRecords, one split per fold).
"""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

from components import record_files
from components import splits


def split_files(examples: types.Artifact, split_names: Sequence[str]
               ) -> List[str]:
  """The record files of the given splits, in a stable order."""
  files = []
  for split in split_names:
    pattern = artifact_utils.get_split_uri([examples], split) + '/*'
    files.extend(sorted(tf.io.gfile.glob(pattern)))
  return files


def fold_files(examples: types.Artifact, folds: Sequence[int]) -> List[str]:
  return split_files(examples, splits.fold_split_names(folds))


class LostRecordsError(RuntimeError):
  """A Beam write left out records: nothing may be silently dropped."""


def check_written(component: str, what: str, written: Dict[str, int],
                  expected: Dict[str, int]) -> None:
  """Raises LostRecordsError unless every split holds what was produced.

  Beam's file sinks have lost records under DirectRunner's multi-worker
  modes; counting the files after the write makes such a loss an error.
  """
  if written == expected:
    return
  differences = ', '.join(
      f'{split}: {written.get(split, 0)} written of {expected.get(split, 0)}'
      for split in sorted(set(written) | set(expected))
      if written.get(split, 0) != expected.get(split, 0))
  raise LostRecordsError(
      f'{component}: the output holds {sum(written.values())} {what} where '
      f'{sum(expected.values())} were produced ({differences}). Beam lost '
      'records while writing; rerun the component (its output is replaced), '
      'and if it recurs use --direct_running_mode=in_memory or report it.')


def read_columns(files: Sequence[str], spec: Dict[str, tf.io.FixedLenFeature]
                ) -> Dict[str, np.ndarray]:
  """Fixed-length features of every Example in `files`, one array each.

  Parses in batches, which is what makes 20,000 embedding patches quick.
  """
  columns = {name: [] for name in spec}
  if files:
    batches = record_files.record_dataset(files).batch(1024).map(
        lambda records: tf.io.parse_example(records, spec))
    for batch in batches:
      for name, value in batch.items():
        columns[name].append(value.numpy())
  return {name: (np.concatenate(values) if values else
                 np.zeros([0] + list(spec[name].shape),
                          spec[name].dtype.as_numpy_dtype))
          for name, values in columns.items()}


def decode(value) -> str:
  """A parsed string feature as text."""
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)
