"""The spans an Esc50ExampleGen run reads, and the clips it lists in them.

The span table ([{span, root, fingerprint, classes}]) is what a span's clip
Examples depend on: the driver computes it before the cache is consulted and
compares it with earlier runs' (components/span_reuse.py).
"""

import dataclasses
from typing import Any, Dict, List, Sequence, Tuple

from data import datasets
from data import esc50_csv

# (span, span root, row) of a listed clip.
ListedClip = Tuple[int, str, esc50_csv.ClipRow]


def span_table(data_root: str, span_window: int,
               classes: Sequence[str]) -> List[Dict[str, Any]]:
  """Each span of the window with its fingerprint and its chosen classes.

  Raises DatasetError for an unknown class (listing the dataset's) or fewer
  than two classes in the window.
  """
  spans = datasets.span_table(data_root, span_window)
  read = [datasets.read_dataset(span['root']) for span in spans]
  chosen = datasets.resolve_classes(
      datasets.class_order({c for d in read for c in d.classes}), classes)
  return [dict(span, classes=[c for c in chosen if c in dataset.classes])
          for span, dataset in zip(spans, read)]


def classes_of(table: Sequence[Dict[str, Any]]) -> List[str]:
  return datasets.class_order({c for entry in table for c in entry['classes']})


def list_clips(data_root: str, table: Sequence[Dict[str, Any]]
              ) -> Tuple[List[ListedClip], List[datasets.Dataset]]:
  """The chosen clips of every span in the table, and the datasets read.

  Clips of a span dataset are named by their span's folder too, so two spans
  may hold files of the same name.
  """
  clips: List[ListedClip] = []
  read = []
  for entry in table:
    dataset = datasets.read_dataset(entry['root'])
    read.append(dataset)
    prefix = datasets.span_prefix(data_root, entry['root'])
    for row in datasets.select(dataset.rows, entry['classes']):
      if prefix:
        row = dataclasses.replace(row, filename=f'{prefix}/{row.filename}')
      clips.append((entry['span'], entry['root'], row))
  return clips, read
