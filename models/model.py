"""Trainer's module file: the dense head on YAMNet embeddings, and its export.

Follows the source recipe: Dense(512, relu) -> Dense(n) on per-patch
embeddings, Adam, early stopping on the eval fold. Two additions, measured
with `yamnet-pipeline cv` (docs/evaluation.md): dropout on the hidden layer
while training, and a refit on the train and eval folds for the epoch count
early stopping chose. The export wraps YAMNet + head + mean over patches
(serving/).
"""

import logging
from typing import Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer import fn_args_utils

from data import record_files
from yamnet import loader
from models import hyperparameters as hp
from models import preprocessing
from yamnet import patch_examples as patches
from serving import classifier_module

# Patches in the training shuffle's buffer: bounds the Trainer's memory
# whatever the dataset's size (4 KB per patch).
SHUFFLE_BUFFER_PATCHES = 10_000
# Records parsed at once when streaming them from files.
_PARSE_BATCH = 512


def _transformed_files(file_patterns: Sequence[str]) -> List[str]:
  files = sorted(f for pattern in file_patterns
                 for f in tf.io.gfile.glob(pattern))
  if not files:
    raise ValueError(f'no transformed examples match {list(file_patterns)}')
  return files


def patch_dataset(file_patterns: Sequence[str],
                  feature_spec: Dict[str, tf.io.FixedLenFeature]
                 ) -> tf.data.Dataset:
  """The transformed patches of the given splits as (embedding, label)
  pairs, streamed from the files: never all in memory."""
  spec = {name: feature_spec[name] for name in (patches.EMBEDDING,
                                                patches.LABEL)}

  def parse(records):
    parsed = tf.io.parse_example(records, spec)
    return parsed[patches.EMBEDDING], tf.reshape(parsed[patches.LABEL], [-1])

  return record_files.record_dataset(_transformed_files(file_patterns)).batch(
      _PARSE_BATCH).map(parse).unbatch()


def read_labels(file_patterns: Sequence[str],
                feature_spec: Dict[str, tf.io.FixedLenFeature]) -> np.ndarray:
  """Only the labels of the given splits (8 bytes a patch), for the checks
  before training."""
  columns = record_files.read_columns(
      _transformed_files(file_patterns),
      {patches.LABEL: feature_spec[patches.LABEL]})
  return np.reshape(columns[patches.LABEL], [-1]).astype(np.int64)


def _check_labels(labels: np.ndarray, split_files: Sequence[str],
                  num_classes: int) -> None:
  if labels.size == 0:
    raise ValueError(f'no examples in {list(split_files)}')
  if labels.min() < 0:
    raise ValueError(
        f'{int((labels < 0).sum())} examples in {list(split_files)} have a '
        'class that is absent from the training folds; choose folds where '
        'every class has training clips')
  if labels.max() >= num_classes:
    raise ValueError('label index beyond the vocabulary')


def build_head(num_classes: int, learning_rate: float,
               dropout: float = 0.0) -> keras.Model:
  """Dense(512, relu) -> Dense(n) logits, as in the source recipe.

  With `dropout`, hidden units are dropped while training only.
  """
  model = keras.Sequential([
      keras.layers.Input(shape=(patches.EMBEDDING_SIZE,), dtype='float32',
                         name=patches.EMBEDDING),
      keras.layers.Dense(512, activation='relu'),
      keras.layers.Dropout(dropout),
      keras.layers.Dense(num_classes),
  ])
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=['accuracy'])
  return model


def head_weights(model: keras.Model) -> List[np.ndarray]:
  """[hidden kernel, hidden bias, output kernel, output bias]."""
  return [weight.numpy() if hasattr(weight, 'numpy') else np.asarray(weight)
          for weight in model.get_weights()]


def warm_start_weights(base_model_dir: Optional[str],
                       class_names: Sequence[str]
                      ) -> Optional[List[np.ndarray]]:
  """The head of the exported model in base_model_dir, its outputs put in the
  order of class_names; None without a base model or when it serves other
  classes (the head then starts from fresh weights).

  Transform's vocabulary orders the classes by frequency, so the same classes
  can come in another order when the data grows.
  """
  if not base_model_dir:
    return None
  weights, base_names = classifier_module.read_head(base_model_dir)
  if sorted(base_names) != sorted(class_names):
    logging.info('Not starting from %s: it serves %s, not %s', base_model_dir,
                 base_names, list(class_names))
    return None
  order = [base_names.index(name) for name in class_names]
  hidden_kernel, hidden_bias, output_kernel, output_bias = weights
  return [hidden_kernel, hidden_bias, output_kernel[:, order],
          output_bias[order]]


def _training_batches(pairs: tf.data.Dataset,
                      config: hp.Hyperparameters) -> tf.data.Dataset:
  return pairs.shuffle(
      SHUFFLE_BUFFER_PATCHES, seed=config.seed,
      reshuffle_each_iteration=True).batch(config.batch_size).prefetch(2)


def fit_head(train: tf.data.Dataset, validation: tf.data.Dataset,
             num_classes: int, hyperparameters: hp.Hyperparameters,
             callbacks: Sequence[keras.callbacks.Callback] = (),
             verbose: int = 0,
             initial_weights: Optional[Sequence[np.ndarray]] = None
            ) -> Tuple[keras.Model, int]:
  """The head as the pipeline trains it; returns (head, epochs it trained).

  train and validation yield unbatched (embedding, label) pairs; they are
  read once per epoch through a bounded shuffle buffer, so memory does not
  grow with the data. Early stopping on the validation patches picks the
  number of epochs. With `refit` (the default) the head then trains that
  many epochs again from its starting weights, on the training and
  validation patches together: on ESC-50's small folds the extra fold is
  worth more than the held-out check (docs/evaluation.md). `callbacks` see
  the first, validated fit.

  With `initial_weights` (a warm start, `warm_start_weights`) both fits start
  from them instead of fresh weights, and the first fit runs at most
  `warm_start_epochs`.
  """
  config = hyperparameters
  epochs = config.warm_start_epochs if initial_weights else config.epochs

  def seeded_head() -> keras.Model:
    keras.utils.set_random_seed(config.seed)
    head = build_head(num_classes, config.learning_rate, config.dropout)
    if initial_weights:
      head.set_weights(list(initial_weights))
    return head

  head = seeded_head()
  history = head.fit(
      _training_batches(train, config),
      validation_data=validation.batch(config.batch_size),
      epochs=epochs, verbose=verbose,
      callbacks=[keras.callbacks.EarlyStopping(
          monitor='val_loss', patience=config.patience,
          restore_best_weights=True), *callbacks])
  best = int(np.argmin(history.history['val_loss'])) + 1
  if not config.refit:
    return head, best
  logging.info('Early stopping chose %d epochs; refitting on the training '
               'and validation patches', best)
  head = seeded_head()
  head.fit(_training_batches(train.concatenate(validation), config),
           epochs=best, verbose=verbose)
  return head, best


def run_fn(fn_args: fn_args_utils.FnArgs) -> None:
  """Trains the head on the train folds and exports the serving model."""
  custom_config = fn_args.custom_config or {}
  hyperparameters = hp.Hyperparameters.from_custom_config(custom_config)
  yamnet_handle = custom_config[hp.YAMNET_HANDLE_KEY]

  transform_output = tft.TFTransformOutput(fn_args.transform_output)
  class_names = [name.decode('utf-8') if isinstance(name, bytes) else name
                 for name in transform_output.vocabulary_by_name(
                     preprocessing.LABEL_VOCABULARY)]
  feature_spec = transform_output.transformed_feature_spec()
  train_labels = read_labels(fn_args.train_files, feature_spec)
  eval_labels = read_labels(fn_args.eval_files, feature_spec)
  _check_labels(train_labels, fn_args.train_files, len(class_names))
  _check_labels(eval_labels, fn_args.eval_files, len(class_names))
  logging.info('Training on %d patches (%d classes: %s), validating on %d',
               len(train_labels), len(class_names), ', '.join(class_names),
               len(eval_labels))

  initial_weights = (warm_start_weights(fn_args.base_model, class_names)
                     if hyperparameters.warm_start_epochs else None)
  warm_start_from = fn_args.base_model if initial_weights else None
  if warm_start_from:
    logging.info('Starting from the head of %s', warm_start_from)
  model, chosen_epochs = fit_head(
      patch_dataset(fn_args.train_files, feature_spec),
      patch_dataset(fn_args.eval_files, feature_spec), len(class_names),
      hyperparameters,
      callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
      verbose=2, initial_weights=initial_weights)
  hp.write_record(fn_args.model_run_dir, hyperparameters, chosen_epochs,
                  warm_start_from)

  yamnet = loader.load_yamnet(yamnet_handle)
  classifier_module.export_classifier(
      fn_args.serving_model_dir, yamnet, head_weights(model), class_names,
      yamnet_handle=yamnet_handle, max_audio_seconds=float(custom_config[
          hp.MAX_AUDIO_SECONDS_KEY]))
  logging.info('Exported the serving model to %s', fn_args.serving_model_dir)
