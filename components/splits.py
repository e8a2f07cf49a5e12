"""Split naming: every artifact of the pipeline is split by ESC-50 fold.

Downstream stages pick train / eval / test folds by split name, so changing the
fold assignment or running cross-validation never re-decodes or re-embeds audio.
"""

from typing import List, Sequence

from data import folds as fold_assignment

_PREFIX = 'fold'


def fold_split_name(fold: int) -> str:
  return f'{_PREFIX}{int(fold)}'


def fold_of_split(split_name: str) -> int:
  if not split_name.startswith(_PREFIX):
    raise ValueError(f'{split_name!r} is not a fold split (fold1..fold5)')
  return int(split_name[len(_PREFIX):])


def fold_split_names(folds: Sequence[int]) -> List[str]:
  """Split names for folds, validating that each is an ESC-50 fold."""
  bad = [fold for fold in folds if not 1 <= int(fold) <= fold_assignment.NUM_FOLDS]
  if bad:
    raise ValueError(f'folds {bad} are outside 1-{fold_assignment.NUM_FOLDS}')
  return [fold_split_name(fold) for fold in folds]


ALL_FOLD_SPLITS = tuple(
    fold_split_name(fold) for fold in range(1, fold_assignment.NUM_FOLDS + 1))
