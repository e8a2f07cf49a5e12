"""The record files of an Examples artifact's splits, and the count check.

Readers (the embedding step, the run report, cross-validation) take the files
a component wrote from its artifact, so each sees exactly the data the
components produced (TFRecords, one split per fold); writers check after every
Beam write that no record was lost.
"""

import re
from typing import Dict, List, Sequence

import tensorflow as tf
from tfx import types
from tfx.components.example_gen import write_split
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


def split_dir(artifact_uri: str, split: str) -> str:
  """A split's folder under an Examples artifact's URI (TFX's layout), for
  an earlier artifact known only by its URI."""
  return f'{artifact_uri}/Split-{split}'


def span_file_prefix(split_uri: str, span: int) -> str:
  """Where a span's records of one split go: files of their own, so a later
  run can copy one span's records without the others."""
  return f'{split_uri}/span-{span}-{write_split.DEFAULT_FILE_NAME}'


def span_files(split_uri: str, span: int) -> List[str]:
  return sorted(tf.io.gfile.glob(f'{split_uri}/span-{span}-*'))


def span_of_file(path: str) -> int:
  """The span a record file holds (0 for files not named by span)."""
  match = re.match(r'span-(\d+)-', path.rsplit('/', 1)[-1])
  return int(match.group(1)) if match else 0


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
