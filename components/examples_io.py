"""Reads the pipeline's split Examples artifacts back into numpy.

Cross-validation reads YAMNet embeddings and the run report reads clip audio
straight from the artifacts the pipeline wrote, so both see exactly the data
the components produced (GZIP TFRecords, one split per fold).
"""

from typing import Dict, Iterator, List, Sequence

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

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


def _dataset(files: Sequence[str]) -> tf.data.Dataset:
  return tf.data.TFRecordDataset(list(files), compression_type='GZIP')


def read_columns(files: Sequence[str], spec: Dict[str, tf.io.FixedLenFeature]
                ) -> Dict[str, np.ndarray]:
  """Fixed-length features of every Example in `files`, one array each.

  Parses in batches, which is what makes 20,000 embedding patches quick.
  """
  columns = {name: [] for name in spec}
  if files:
    batches = _dataset(files).batch(1024).map(
        lambda records: tf.io.parse_example(records, spec))
    for batch in batches:
      for name, value in batch.items():
        columns[name].append(value.numpy())
  return {name: (np.concatenate(values) if values else
                 np.zeros([0] + list(spec[name].shape),
                          spec[name].dtype.as_numpy_dtype))
          for name, values in columns.items()}


def iter_examples(files: Sequence[str], spec: Dict[str, object]
                 ) -> Iterator[Dict[str, np.ndarray]]:
  """Example by example; for variable-length features such as clip audio.

  A tf.io.RaggedFeature in `spec` comes back as a 1-D array per Example.
  """
  for record in _dataset(files):
    parsed = tf.io.parse_single_example(record, spec)
    yield {name: value.numpy() for name, value in parsed.items()}


def decode(value) -> str:
  """A parsed string feature as text."""
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)
