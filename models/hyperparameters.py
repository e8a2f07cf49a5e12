"""The Trainer's hyperparameters, typed, with their defaults stated once.

The pipeline's configuration holds one of these; it reaches the Trainer's
module file as TFX's custom_config (JSON), which `from_custom_config` reads
back. Kept free of Keras and TFX so that compiling the pipeline, or parsing
the Airflow DAG, does not load them.
"""

import dataclasses
import json
import os
from typing import Any, Dict, Mapping, Optional

# custom_config keys of the YAMNet handle the export wraps and of the
# longest audio the exported model accepts.
YAMNET_HANDLE_KEY = 'yamnet_handle'
MAX_AUDIO_SECONDS_KEY = 'max_audio_seconds'
# Written by the Trainer beside its TensorBoard logs: what the run used.
RECORD_FILE = 'hyperparameters.json'
# Keys of that record besides the hyperparameters.
CHOSEN_EPOCHS = 'chosen_epochs'
# The model the head started from (its serving directory), or None.
WARM_START_FROM = 'warm_start_from'


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """How the head trains (models/model.py: fit_head)."""
  # Most epochs of the first fit; early stopping usually ends sooner.
  epochs: int = 20
  batch_size: int = 32
  learning_rate: float = 1e-3
  # Dropout on the hidden layer while training; no weights, so the exported
  # head is the recipe's Dense(512, relu) -> Dense(n).
  dropout: float = 0.5
  # Epochs without a lower validation loss before early stopping.
  patience: int = 3
  seed: int = 0
  # Retrain on train + eval folds for the epoch count early stopping chose.
  refit: bool = True
  # Most epochs of the first fit when the head starts from the last blessed
  # model of the same classes that was trained on other data (the run that
  # adds a span): it already knows the classes, so it needs fewer. 0: every
  # run trains from fresh weights.
  warm_start_epochs: int = 5

  def __post_init__(self):
    if (self.epochs < 1 or self.batch_size < 1 or self.patience < 0 or
        self.warm_start_epochs < 0):
      raise ValueError(f'epochs and batch_size must be >= 1, patience and '
                       f'warm_start_epochs >= 0: {self}')
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f'dropout must be in [0, 1), got {self.dropout}')
    if self.learning_rate <= 0:
      raise ValueError(
          f'learning_rate must be positive, got {self.learning_rate}')

  def to_custom_config(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_custom_config(cls, config: Mapping[str, Any]) -> 'Hyperparameters':
    """The hyperparameters in custom_config; unknown keys are ignored.

    Values may arrive as JSON text (Kubeflow passes custom_config through
    JSON), so each is converted to its field's type.
    """
    values = {}
    for field in dataclasses.fields(cls):
      if field.name in config:
        values[field.name] = _convert(config[field.name], field.type)
    return cls(**values)


def _convert(value: Any, kind: type) -> Any:
  if kind is bool and isinstance(value, str):
    return value.strip().lower() in ('1', 'true', 'yes')
  return kind(value)


def write_record(directory: str, hyperparameters: Hyperparameters,
                 chosen_epochs: int, warm_start_from: Optional[str]) -> str:
  """Records what training used, for the run report; returns the path."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(directory, RECORD_FILE)
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump({**hyperparameters.to_custom_config(),
               CHOSEN_EPOCHS: chosen_epochs,
               WARM_START_FROM: warm_start_from}, f, indent=2, sort_keys=True)
  return path


def read_record(directory: str) -> Dict[str, Any]:
  """What write_record wrote in directory, or {} if it wrote nothing."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(directory, RECORD_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)
