"""A data root, in either layout, and its spans.

Two layouts, told apart by what is there:
- `esc50`: ESC-50's own (`meta/esc50.csv` + `audio/`), also with a user's CSV
  in its format and any categories (data/esc50_csv.py);
- `folders`: `<root>/<class name>/**/<audio file>`, any format libsndfile
  reads; folds come from data/folds.py. Hidden folders and files that are not
  audio are skipped and counted.

A data root holding `{SPAN}` (e.g. `/data/sounds/week-{SPAN}`) names one
folder per span, each in either layout: the spans of a growing dataset.
Everything here reads through tf.io.gfile, so gs:// roots work too.
"""

import dataclasses
import hashlib
import posixpath
import re
import unicodedata
from typing import Dict, List, Sequence, Tuple

from data import esc50_classes
from data import esc50_csv
from data import folds

ESC50_LAYOUT = 'esc50'
FOLDERS_LAYOUT = 'folders'
SPAN_TOKEN = '{SPAN}'
# What `--classes all` says: every class the dataset holds.
ALL_CLASSES = 'all'


class DatasetError(ValueError):
  """The data root cannot be read as a dataset."""


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def audio_extensions() -> frozenset:
  """File extensions of the formats libsndfile reads here."""
  import soundfile  # pylint: disable=g-import-not-at-top
  formats = {name.lower() for name in soundfile.available_formats()}
  # Other spellings of the same formats.
  formats |= {'aif' if 'aiff' in formats else '', 'oga' if 'ogg' in formats
              else '', 'opus' if 'ogg' in formats else ''}
  return frozenset(formats - {''})


@dataclasses.dataclass(frozen=True)
class Dataset:
  """The clips of one data root (one span), as listed or found."""
  root: str
  layout: str
  rows: Tuple[esc50_csv.ClipRow, ...]
  # Files skipped: not audio, or inside a hidden folder (folder layout).
  files_ignored: int = 0

  @property
  def classes(self) -> List[str]:
    return class_order({row.category for row in self.rows})


def class_order(names) -> List[str]:
  """ESC-50's order when every name is an ESC-50 class, else by name."""
  names = set(names)
  if names <= set(esc50_classes.ESC50_CLASSES):
    return [n for n in esc50_classes.ESC50_CLASSES if n in names]
  return sorted(names)


def _is_hidden(name: str) -> bool:
  return name.startswith('.')


def _class_folder_files(root: str, folder: str,
                        extensions: frozenset) -> Tuple[List[str], int]:
  """Audio files under one class folder, relative to it; and files skipped."""
  gfile = _gfile()
  top = posixpath.join(root, folder)
  found, ignored = [], 0
  for directory, _, files in gfile.walk(top):
    relative_dir = posixpath.relpath(directory.rstrip('/'), top.rstrip('/'))
    parts = [] if relative_dir == '.' else relative_dir.split('/')
    for name in files:
      ext = posixpath.splitext(name)[1].lstrip('.').lower()
      if any(_is_hidden(p) for p in parts + [name]) or ext not in extensions:
        ignored += 1
      else:
        found.append(posixpath.join(*parts, name))
  return sorted(found), ignored


def _read_folders(root: str) -> Dataset:
  gfile = _gfile()
  extensions = audio_extensions()
  by_class: Dict[str, List[Tuple[str, str]]] = {}
  ignored = 0
  for entry in sorted(gfile.listdir(root)):
    folder = entry.rstrip('/')
    if not gfile.isdir(posixpath.join(root, folder)):
      ignored += 1
      continue
    files, skipped = _class_folder_files(
        root, folder, frozenset() if _is_hidden(folder) else extensions)
    ignored += skipped
    if files:
      category = unicodedata.normalize('NFC', folder)
      by_class.setdefault(category, []).extend(
          (folder, path) for path in files)
  if not by_class:
    raise DatasetError(
        f'{root} holds neither meta/esc50.csv (the ESC-50 layout) nor class '
        'folders with audio files (<root>/<class>/<file>)')
  targets = {name: i for i, name in enumerate(class_order(by_class))}
  rows = [
      esc50_csv.ClipRow(
          filename=f'{category}/{path}', path=f'{folder}/{path}',
          fold=folds.fold_of_source(f'{category}/{folds.source_of(path)}'),
          target=targets[category], category=category, esc10=False,
          src_file='', take='')
      for category, files in by_class.items() for folder, path in files]
  return Dataset(root, FOLDERS_LAYOUT, tuple(rows), ignored)


def read_dataset(root: str) -> Dataset:
  """The clips of a data root in either layout; raises DatasetError."""
  gfile = _gfile()
  if not gfile.isdir(root):
    raise DatasetError(f'data root {root!r} is not a readable directory')
  if gfile.exists(posixpath.join(root, esc50_csv.CSV_RELATIVE_PATH)):
    return Dataset(root, ESC50_LAYOUT,
                   tuple(esc50_csv.read_esc50_csv(root)))
  return _read_folders(root)


def fingerprint(root: str) -> str:
  """Changes when any file under the root is added, removed or rewritten."""
  gfile = _gfile()
  lines = []
  for directory, _, files in sorted(gfile.walk(root)):
    for name in sorted(files):
      path = posixpath.join(directory, name)
      stat = gfile.stat(path)
      lines.append(f'{posixpath.relpath(path, root)}\t{stat.length}\t'
                   f'{stat.mtime_nsec}')
  return hashlib.sha256('\n'.join(lines).encode('utf-8')).hexdigest()


def span_roots(data_root: str) -> List[Tuple[int, str]]:
  """(span, folder) of each span, in span order; [(0, root)] without {SPAN}."""
  if SPAN_TOKEN not in data_root:
    return [(0, data_root)]
  if data_root.count(SPAN_TOKEN) != 1:
    raise DatasetError(f'{data_root}: {SPAN_TOKEN} may appear once')
  before, after = data_root.split(SPAN_TOKEN)
  matcher = re.compile(re.escape(before) + r'(\d+)' + re.escape(after) + '/?$')
  spans = {}
  for path in _gfile().glob(data_root.replace(SPAN_TOKEN, '*')):
    match = matcher.match(path)
    if match and _gfile().isdir(path):
      spans[int(match.group(1))] = path.rstrip('/')
  if not spans:
    raise DatasetError(f'no folder matches {data_root} ({SPAN_TOKEN} stands '
                       'for a span number)')
  return sorted(spans.items())


def window(spans: Sequence[Tuple[int, str]],
           span_window: int) -> List[Tuple[int, str]]:
  """The last `span_window` spans; all of them for 0."""
  return list(spans[-span_window:] if span_window else spans)


def span_table(data_root: str, span_window: int) -> List[Dict[str, object]]:
  """[{span, root, fingerprint}] of the window's spans: what a run reads, and
  what tells a later run whether anything changed."""
  return [{'span': span, 'root': root, 'fingerprint': fingerprint(root)}
          for span, root in window(span_roots(data_root), span_window)]


def span_prefix(data_root: str, span_root: str) -> str:
  """What names a span's clips apart from other spans': its folder's name."""
  return posixpath.basename(span_root) if SPAN_TOKEN in data_root else ''


def resolve_classes(found: Sequence[str], classes: Sequence[str]) -> List[str]:
  """The chosen classes: every one found for `all`; unknown names refused,
  listing the dataset's classes."""
  if list(classes) == [ALL_CLASSES]:
    chosen = class_order(found)
  else:
    unknown = [name for name in classes if name not in found]
    if unknown:
      raise DatasetError(
          f'class(es) {", ".join(unknown)} not in the dataset. Its classes: '
          f'{", ".join(class_order(found))} (or "all")')
    chosen = list(classes)
  if len(chosen) < 2:
    raise DatasetError(f'a classifier needs at least two classes; the '
                       f'dataset holds {chosen}')
  return chosen


def select(rows: Sequence[esc50_csv.ClipRow],
           classes: Sequence[str]) -> List[esc50_csv.ClipRow]:
  chosen = set(classes)
  return [row for row in rows if row.category in chosen]


def audio_path(root: str, row: esc50_csv.ClipRow) -> str:
  return posixpath.join(root, row.path)
