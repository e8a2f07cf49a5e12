"""The head's training: early stopping picks the epochs, the refit uses them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

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
  head, epochs = model.fit_head(
      tf.data.Dataset.from_tensor_slices(train),
      tf.data.Dataset.from_tensor_slices(validation), 2,
      hp.Hyperparameters(epochs=5, refit=refit))
  assert 1 <= epochs <= 5
  predicted = head(probe, training=False).numpy().argmax(axis=1)
  on_train = head(train[0], training=False).numpy().argmax(axis=1)
  assert np.mean(on_train == train[1]) > 0.99
  if refit:
    # Only the refit saw class 1 on axis 2.
    assert np.mean(predicted == 1) > 0.95


class _StepCounter(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.steps = 0

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1


def test_training_streams_the_patches_rather_than_loading_them():
  """Patches are read while training runs: far more patches than the shuffle
  buffer holds, and most of an epoch's are produced only after training
  steps have run on earlier ones."""
  train, validation, _ = _data()
  repeats = 3 * model.SHUFFLE_BUFFER_PATCHES // len(train[1]) + 1
  counter = _StepCounter()
  steps_when_produced = []

  def patches():
    for _ in range(repeats):
      for embedding, label in zip(*train):
        steps_when_produced.append(counter.steps)
        yield embedding, label

  stream = tf.data.Dataset.from_generator(patches, output_signature=(
      tf.TensorSpec([1024], tf.float32), tf.TensorSpec([], tf.int64)))
  model.fit_head(stream, tf.data.Dataset.from_tensor_slices(validation), 2,
                 hp.Hyperparameters(epochs=1, refit=False),
                 callbacks=[counter])
  first_epoch = steps_when_produced[:repeats * len(train[1])]
  assert len(first_epoch) > 3 * model.SHUFFLE_BUFFER_PATCHES
  # A loader would produce every patch before the first step.
  assert first_epoch[-1] > 0.5 * counter.steps
  assert sum(s > 0 for s in first_epoch) > 0.5 * len(first_epoch)


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
                                 {'learning_rate': 0.0},
                                 {'warm_start_epochs': -1}])
def test_impossible_hyperparameters_are_refused(bad):
  with pytest.raises(ValueError):
    hp.Hyperparameters(**bad)


class _Recorder(keras.callbacks.Callback):
  """The head's weights when training begins, and the epochs it ran."""

  def __init__(self):
    super().__init__()
    self.initial, self.epochs = None, 0

  def on_train_begin(self, logs=None):
    self.initial = model.head_weights(self.model)

  def on_epoch_end(self, epoch, logs=None):
    self.epochs += 1


@pytest.fixture(scope='module')
def exported_head(tmp_path_factory, standin_yamnet):
  """An exported classifier of classes a, b, c with a random head."""
  from serving import classifier_module  # pylint: disable=g-import-not-at-top
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  weights = [rng.normal(size=shape).astype(np.float32)
             for shape in ((1024, 512), (512,), (512, 3), (3,))]
  path = str(tmp_path_factory.mktemp('base') / '1')
  classifier_module.export_classifier(
      path, loader.load_yamnet(standin_yamnet), weights, ['a', 'b', 'c'])
  return path, weights


def test_a_warm_start_takes_the_base_head_in_this_runs_class_order(
    exported_head):
  path, (hidden_kernel, hidden_bias, output_kernel, output_bias) = (
      exported_head)
  weights = model.warm_start_weights(path, ['c', 'a', 'b'])
  np.testing.assert_array_equal(weights[0], hidden_kernel)
  np.testing.assert_array_equal(weights[1], hidden_bias)
  np.testing.assert_array_equal(weights[2], output_kernel[:, [2, 0, 1]])
  np.testing.assert_array_equal(weights[3], output_bias[[2, 0, 1]])
  # Other classes, or no base model: fresh weights.
  assert model.warm_start_weights(path, ['a', 'b']) is None
  assert model.warm_start_weights(path, ['a', 'b', 'd']) is None
  assert model.warm_start_weights(None, ['a', 'b', 'c']) is None


@pytest.mark.parametrize('refit', [True, False])
def test_a_warm_started_fit_begins_at_the_given_weights_and_stops_sooner(
    refit):
  train, validation, _ = _data()
  rng = np.random.default_rng(5)
  initial = [rng.normal(size=shape).astype(np.float32)
             for shape in ((1024, 512), (512,), (512, 2), (2,))]
  recorder = _Recorder()
  config = hp.Hyperparameters(epochs=20, warm_start_epochs=2, patience=20,
                              refit=refit)
  head, epochs = model.fit_head(
      tf.data.Dataset.from_tensor_slices(train),
      tf.data.Dataset.from_tensor_slices(validation), 2, config,
      callbacks=[recorder], initial_weights=initial)
  for got, expected in zip(recorder.initial, initial):
    np.testing.assert_array_equal(got, expected)
  assert recorder.epochs == 2 and 1 <= epochs <= 2
  # Trained from there: the head has moved off its starting weights.
  assert not np.allclose(model.head_weights(head)[2], initial[2])
