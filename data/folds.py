"""Folds for datasets that do not name them: one per source recording.

Clips cut from one recording sound alike, so a model tested on a clip whose
neighbour it trained on looks better than it is. Every clip of one source
therefore lands in one fold, chosen by a hash of the source's name: the
assignment depends on nothing else, so adding clips never moves old ones.
"""

import hashlib
import posixpath
import re

NUM_FOLDS = 5

# A take suffix after the source's name: `dog-0042-A.wav`, `rec_3.flac`.
_TAKE_SUFFIX = re.compile(r'[-_](?:[A-Za-z]|\d{1,3})$')


def source_of(path_in_class: str) -> str:
  """The source recording of a clip from its path inside its class folder:
  the path without extension and take suffix (`sub/rec-B.wav` -> `sub/rec`)."""
  stem = posixpath.splitext(path_in_class)[0]
  return _TAKE_SUFFIX.sub('', stem) or stem


def fold_of_source(source: str) -> int:
  """The fold (1..NUM_FOLDS) of every clip of a source recording."""
  digest = hashlib.sha256(source.encode('utf-8')).digest()
  return int.from_bytes(digest[:8], 'big') % NUM_FOLDS + 1
