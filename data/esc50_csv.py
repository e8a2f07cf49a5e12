"""Reading and validating a metadata CSV in ESC-50's format (`meta/esc50.csv`).

ESC-50's own file, or a user's in its format with any categories: `filename`,
`target` and `category` are required; `fold`, `esc10`, `src_file` and `take`
may be left out (without `fold`, data/folds.py assigns one per source
recording). The whole CSV is checked before any audio is read, so a malformed
dataset fails fast with the row and column named instead of half-way through
a Beam job.
"""

import csv
import dataclasses
import io
import posixpath
from typing import Dict, List, Sequence

from data import esc50_classes
from data import folds

CSV_RELATIVE_PATH = 'meta/esc50.csv'
AUDIO_DIR = 'audio'
REQUIRED_COLUMNS = ('filename', 'target', 'category')
OPTIONAL_COLUMNS = ('fold', 'esc10', 'src_file', 'take')


class Esc50CsvError(ValueError):
  """The metadata CSV is not a usable ESC-50 index."""


@dataclasses.dataclass(frozen=True)
class ClipRow:
  """One clip of a dataset: as the metadata CSV lists it, or as found in a
  class folder (data/datasets.py)."""
  # Names the clip: a file inside audio/, or <class>/<path> in a class folder.
  filename: str
  fold: int
  target: int
  category: str
  esc10: bool
  src_file: str
  take: str
  # The audio file, relative to the data root.
  path: str

  @property
  def clip_id(self) -> str:
    return posixpath.splitext(self.filename)[0]


def _parse_int(value: str, row_number: int, column: str) -> int:
  try:
    return int(value)
  except ValueError:
    raise Esc50CsvError(
        f'esc50.csv row {row_number}, column {column!r}: expected an integer, '
        f'got {value!r}') from None


def _check_filename(filename: str, row_number: int) -> None:
  """Filenames must name a file directly inside audio/, never a path."""
  if (not filename or '/' in filename or '\\' in filename or
      filename in ('.', '..') or filename.startswith('~') or
      (len(filename) > 1 and filename[1] == ':')):
    raise Esc50CsvError(
        f'esc50.csv row {row_number}, column \'filename\': {filename!r} must be '
        'a plain file name inside audio/ (no directories, no absolute path)')


def _parse_row(raw: Dict[str, str], row_number: int) -> ClipRow:
  present = [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c in raw]
  empty = [column for column in present if not (raw.get(column) or '').strip()]
  if empty:
    raise Esc50CsvError(
        f'esc50.csv row {row_number}: empty value in column(s) {empty}')
  filename = raw['filename'].strip()
  _check_filename(filename, row_number)
  src_file = (raw.get('src_file') or '').strip()
  if 'fold' in raw:
    fold = _parse_int(raw['fold'], row_number, 'fold')
    if not 1 <= fold <= folds.NUM_FOLDS:
      raise Esc50CsvError(
          f'esc50.csv row {row_number}, column \'fold\': {fold} is outside '
          f'1-{folds.NUM_FOLDS}')
  else:
    fold = folds.fold_of_source(src_file or folds.source_of(filename))
  esc10_text = (raw.get('esc10') or 'False').strip()
  if esc10_text not in ('True', 'False'):
    raise Esc50CsvError(
        f'esc50.csv row {row_number}, column \'esc10\': expected True or '
        f'False, got {esc10_text!r}')
  return ClipRow(filename=filename, fold=fold,
                 target=_parse_int(raw['target'], row_number, 'target'),
                 category=raw['category'].strip(),
                 esc10=esc10_text == 'True', src_file=src_file,
                 take=(raw.get('take') or '').strip(),
                 path=posixpath.join(AUDIO_DIR, filename))


def _check_targets(rows: Sequence[ClipRow], row_numbers: Sequence[int]):
  """One target per category and one category per target, as in the first
  row of each; ESC-50's own numbers when every category is an ESC-50 class."""
  catalogue = all(r.category in esc50_classes.ESC50_CLASSES for r in rows)
  by_category: Dict[str, ClipRow] = {}
  by_target: Dict[int, ClipRow] = {}
  for row, number in zip(rows, row_numbers):
    if catalogue and esc50_classes.target_of(row.category) != row.target:
      raise Esc50CsvError(
          f'esc50.csv row {number}: target {row.target} does not match '
          f'category {row.category!r} (ESC-50 target '
          f'{esc50_classes.target_of(row.category)})')
    first = by_category.setdefault(row.category, row)
    if first.target != row.target:
      raise Esc50CsvError(
          f'esc50.csv row {number}: category {row.category!r} has target '
          f'{row.target}, but {first.target} on an earlier row')
    first = by_target.setdefault(row.target, row)
    if first.category != row.category:
      raise Esc50CsvError(
          f'esc50.csv row {number}: target {row.target} names '
          f'{row.category!r}, but {first.category!r} on an earlier row')


def parse_esc50_csv(text: str) -> List[ClipRow]:
  """Parses and validates the CSV text; raises Esc50CsvError naming the row.

  Text saved by a spreadsheet (a byte-order mark, CRLF line ends) reads the
  same as plain UTF-8.
  """
  reader = csv.DictReader(io.StringIO(text.lstrip('\ufeff'), newline=''))
  header = [name.strip() for name in reader.fieldnames or []]
  reader.fieldnames = header
  missing = [column for column in REQUIRED_COLUMNS if column not in header]
  if missing:
    raise Esc50CsvError(
        f'esc50.csv is missing column(s) {missing}; found {header}. Expected '
        f'{list(REQUIRED_COLUMNS)}, optionally {list(OPTIONAL_COLUMNS)}')
  rows, numbers = [], []
  seen = {}
  # Row numbers count the header as row 1, as a spreadsheet shows them.
  for row_number, raw in enumerate(reader, start=2):
    row = _parse_row(raw, row_number)
    if row.filename in seen:
      raise Esc50CsvError(
          f'esc50.csv row {row_number}: duplicate filename {row.filename!r} '
          f'(first listed on row {seen[row.filename]})')
    seen[row.filename] = row_number
    rows.append(row)
    numbers.append(row_number)
  if not rows:
    raise Esc50CsvError('esc50.csv lists no clips')
  _check_targets(rows, numbers)
  return rows


def read_esc50_csv(data_root: str) -> List[ClipRow]:
  """Reads `<data_root>/meta/esc50.csv` through tf.io.gfile (gs:// works)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = posixpath.join(data_root, CSV_RELATIVE_PATH)
  if not tf.io.gfile.isdir(data_root):
    raise Esc50CsvError(f'data root {data_root!r} is not a readable directory')
  if not tf.io.gfile.exists(path):
    raise Esc50CsvError(
        f'{path} not found: the data root must hold meta/esc50.csv and audio/ '
        '(the ESC-50 layout; `yamnet-pipeline download-esc50` fetches it)')
  with tf.io.gfile.GFile(path, 'r') as f:
    return parse_esc50_csv(f.read())
