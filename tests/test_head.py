"""The head's training: early stopping picks the epochs, the refit uses them."""

import numpy as np
import pytest

from models import hyperparameters as hp
from models import model


def _cluster(direction, label, count, rng):
  centre = np.zeros(1024, np.float32)
  centre[direction] = 3.0
  points = centre + rng.normal(0, 0.3, (count, 1024)).astype(np.float32)
  return points, np.full(count, label, np.int64)


def _data():
  """Train: classes 0 and 1 on axes 0 and 1. Validation adds class 1 on axis 2,
  a region the train folds never show."""
  rng = np.random.default_rng(0)
  parts = [_cluster(0, 0, 600, rng), _cluster(1, 1, 600, rng)]
  train = tuple(np.concatenate(p) for p in zip(*parts))
  parts += [_cluster(2, 1, 600, rng)]
  validation = tuple(np.concatenate(p) for p in zip(*parts[1:]))
  probe, _ = _cluster(2, 1, 50, rng)
  return train, validation, probe


@pytest.mark.parametrize('refit', [True, False])
def test_refit_learns_from_the_validation_folds(refit):
  train, validation, probe = _data()
  head, epochs = model.fit_head(train, validation, 2,
                                hp.Hyperparameters(epochs=5, refit=refit))
  assert 1 <= epochs <= 5
  predicted = head(probe, training=False).numpy().argmax(axis=1)
  on_train = head(train[0], training=False).numpy().argmax(axis=1)
  assert np.mean(on_train == train[1]) > 0.99
  if refit:
    # Only the refit saw class 1 on axis 2.
    assert np.mean(predicted == 1) > 0.95


def _refit(value):
  return hp.Hyperparameters.from_custom_config({'refit': value}).refit


def test_refit_flag_reads_custom_config_values():
  assert _refit(True) and _refit('true') and _refit('1')
  assert not _refit(False) and not _refit('false')
  assert not _refit(0)


def test_custom_config_round_trips_and_converts_json_text():
  chosen = hp.Hyperparameters(epochs=7, learning_rate=0.01, refit=False)
  assert hp.Hyperparameters.from_custom_config(
      chosen.to_custom_config()) == chosen
  text = {k: str(v) for k, v in chosen.to_custom_config().items()}
  assert hp.Hyperparameters.from_custom_config(text) == chosen
  assert hp.Hyperparameters.from_custom_config(
      {'yamnet_handle': 'x'}) == hp.Hyperparameters()


@pytest.mark.parametrize('bad', [{'epochs': 0}, {'dropout': 1.0},
                                 {'learning_rate': 0.0}])
def test_impossible_hyperparameters_are_refused(bad):
  with pytest.raises(ValueError):
    hp.Hyperparameters(**bad)
