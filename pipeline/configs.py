"""The pipeline's configuration: every setting a user chooses, each default
stated once.

`create_pipeline` is a function of one PipelineConfig; the command line, the
local runner, the Kubeflow compiler, the Airflow DAG and cross-validation all
build or take this same object (pipeline/options.py says how each setting is
given: a flag or an environment variable). It is frozen, so a runner cannot
change what another one reads; derive a variant with `dataclasses.replace`.
"""

import dataclasses
import os
from typing import Tuple

from data import esc50_classes
from models import hyperparameters as hp
from serving import contract
from yamnet import spec

DEFAULT_OUTPUT_DIR = 'outputs'
# The tutorial's split of ESC-50's five folds.
DEFAULT_TRAIN_FOLDS = (1, 2, 3)
DEFAULT_EVAL_FOLDS = (4,)
DEFAULT_TEST_FOLDS = (5,)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """What one pipeline does, and where a local or Airflow run keeps it."""
  # The dataset: ESC-50's layout or class folders, `{SPAN}` for spans
  # (data/datasets.py).
  data_root: str
  # YAMNet: a TF Hub URL or a SavedModel directory.
  yamnet_handle: str = spec.DEFAULT_YAMNET_HANDLE
  classes: Tuple[str, ...] = esc50_classes.DEFAULT_CLASSES
  # Names the pipeline (yamnet-<name>) and the pushed model's folder.
  model_name: str = 'sound_classifier'
  # Local and Airflow runs: pipeline_root/, metadata.sqlite, serving/, reports.
  output_dir: str = DEFAULT_OUTPUT_DIR
  train_folds: Tuple[int, ...] = DEFAULT_TRAIN_FOLDS
  eval_folds: Tuple[int, ...] = DEFAULT_EVAL_FOLDS
  test_folds: Tuple[int, ...] = DEFAULT_TEST_FOLDS
  # The push gate: lowest test-fold clip accuracy, overall, that is pushed.
  min_accuracy: float = 0.6
  # A run fails when more than this fraction of the listed clips is unusable.
  max_quarantine_fraction: float = 0.05
  # With `{SPAN}` in data_root: train and evaluate on the last N spans
  # (0: all of them).
  span_window: int = 0
  # Clips per YAMNet graph call in the embedding step.
  embedding_batch_size: int = 16
  # The pushed model refuses longer audio before decoding it.
  max_audio_seconds: float = contract.DEFAULT_MAX_AUDIO_SECONDS
  # The push also carries TFLite models (float, int8) for devices, each only
  # if it agrees with the SavedModel on the test clips.
  export_tflite: bool = True
  hyperparameters: hp.Hyperparameters = hp.Hyperparameters()
  # Passed to every Beam-based component.
  beam_pipeline_args: Tuple[str, ...] = ()
  # Reuse a component's earlier outputs when its inputs are unchanged.
  enable_cache: bool = True

  def __post_init__(self):
    # Lists from callers become tuples, so the config stays hashable and
    # nothing can change it in place.
    for name in ('classes', 'train_folds', 'eval_folds', 'test_folds',
                 'beam_pipeline_args'):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    folds = {'train': self.train_folds, 'eval': self.eval_folds,
             'test': self.test_folds}
    for name, values in folds.items():
      if not values:
        raise ValueError(f'choose at least one {name} fold')
    shared = sorted(
        set(self.train_folds) & set(self.eval_folds) |
        set(self.train_folds) & set(self.test_folds) |
        set(self.eval_folds) & set(self.test_folds))
    if shared:
      raise ValueError(f'train, eval and test folds overlap: {shared}')
    if not 0.0 <= self.min_accuracy <= 1.0:
      raise ValueError(f'min_accuracy must be in [0, 1]: {self.min_accuracy}')
    if not 0.0 <= self.max_quarantine_fraction <= 1.0:
      raise ValueError('max_quarantine_fraction must be in [0, 1]: '
                       f'{self.max_quarantine_fraction}')
    if self.span_window < 0:
      raise ValueError(f'span_window must be 0 (all) or more: '
                       f'{self.span_window}')
    if not self.max_audio_seconds > 0:
      raise ValueError('max_audio_seconds must be positive: '
                       f'{self.max_audio_seconds}')
    if self.embedding_batch_size < 1:
      raise ValueError('embedding_batch_size must be at least 1: '
                       f'{self.embedding_batch_size}')

  @property
  def pipeline_name(self) -> str:
    return f'yamnet-{self.model_name}'

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, 'pipeline_root')

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, 'metadata.sqlite')

  @property
  def serving_model_dir(self) -> str:
    return os.path.join(self.output_dir, 'serving', self.model_name)


def default_of(name: str):
  """The default of a field, `hyperparameters.<name>` for the Trainer's."""
  owner, _, field_name = name.rpartition('.')
  cls = hp.Hyperparameters if owner == 'hyperparameters' else PipelineConfig
  (field,) = [f for f in dataclasses.fields(cls) if f.name == field_name]
  if field.default is dataclasses.MISSING:
    raise KeyError(f'{name} has no default')
  return field.default
