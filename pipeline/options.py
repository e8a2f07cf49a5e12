"""How a user sets each field of the PipelineConfig: one table of options.

Every option has a command-line flag and an environment variable, declared
here once with its help; its default is the config's. The command line and the
Airflow DAG both read this table, with one rule of precedence everywhere: the
flag, then the environment variable, then the config's default.
"""

import argparse
import dataclasses
import os
import shlex
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from data import esc50_classes
from pipeline import configs


def folds(text: str) -> List[int]:
  try:
    return [int(x) for x in text.split(',') if x.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated fold numbers, got {text!r}') from None


def fraction(text: str) -> float:
  value = float(text)
  if not 0.0 <= value <= 1.0:
    raise argparse.ArgumentTypeError(f'expected a value in [0, 1], got {text}')
  return value


def positive_int(text: str) -> int:
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError(f'expected a positive integer, got {text}')
  return value


def positive_float(text: str) -> float:
  value = float(text)
  if not value > 0:
    raise argparse.ArgumentTypeError(f'expected a positive number, got {text}')
  return value


def non_negative_int(text: str) -> int:
  value = int(text)
  if value < 0:
    raise argparse.ArgumentTypeError(f'expected 0 or more, got {text}')
  return value


def boolean(text: str) -> bool:
  value = text.strip().lower()
  if value not in ('1', 'true', 'yes', '0', 'false', 'no'):
    raise argparse.ArgumentTypeError(f'expected true or false, got {text!r}')
  return value in ('1', 'true', 'yes')


@dataclasses.dataclass(frozen=True)
class Option:
  """One config field as a user gives it."""
  # The config field; `hyperparameters.<name>` for the Trainer's.
  field: str
  flag: str
  env: str
  help: str
  # Text to value, for the flag and the environment variable alike.
  parse: Callable[[str], Any] = str
  # How the flag's default is shown in --help (default: the config's).
  shown_default: Optional[str] = None
  # Checks the parsed value, raising ValueError with a message for the user.
  resolve: Callable[[Any], Any] = lambda value: value

  @property
  def dest(self) -> str:
    return self.field.replace('.', '__')

  @property
  def default_text(self) -> str:
    """The default as --help and the README's Configuration table show it."""
    if self.shown_default is not None:
      return self.shown_default
    if self.field == 'data_root':
      return 'none'
    value = configs.default_of(self.field)
    if isinstance(value, tuple):
      return ','.join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def names(text: str) -> List[str]:
  return [name.strip() for name in text.split(',') if name.strip()]


OPTIONS = (
    Option('data_root', '--data-root', 'ESC50_ROOT',
           'dataset folder: ESC-50 layout (meta/esc50.csv + audio/) or one '
           'folder per class; {SPAN} in it names one folder per span'),
    Option('yamnet_handle', '--yamnet', 'YAMNET_HANDLE',
           'YAMNet TF Hub URL or SavedModel directory'),
    Option('classes', '--classes', 'YAMNET_CLASSES',
           'comma-separated class names, "esc10" or "all" (every class of '
           'the dataset)', names,
           resolve=lambda value: tuple(
               esc50_classes.parse_classes(','.join(value)))),
    Option('model_name', '--model-name', 'YAMNET_MODEL_NAME',
           'names the pipeline (yamnet-NAME) and the model folder under '
           '<output>/serving/'),
    Option('output_dir', '--output', 'YAMNET_OUTPUT_DIR',
           'output folder: pipeline_root/, metadata.sqlite, serving/, '
           'reports/'),
    Option('train_folds', '--train-folds', 'YAMNET_TRAIN_FOLDS',
           'folds to train on', folds),
    Option('eval_folds', '--eval-folds', 'YAMNET_EVAL_FOLDS',
           'folds for early stopping', folds),
    Option('test_folds', '--test-folds', 'YAMNET_TEST_FOLDS',
           'folds the push gate evaluates on', folds),
    Option('min_accuracy', '--min-accuracy', 'YAMNET_MIN_ACCURACY',
           'lowest test-fold clip accuracy (overall) that may be pushed',
           fraction),
    Option('max_quarantine_fraction', '--max-quarantine-fraction',
           'YAMNET_MAX_QUARANTINE_FRACTION',
           'fail the run when more than this fraction of clips is unusable',
           fraction),
    Option('span_window', '--span-window', 'YAMNET_SPAN_WINDOW',
           'train and evaluate on the last N spans of a {SPAN} data root '
           '(0: all)', non_negative_int),
    Option('embedding_batch_size', '--embedding-batch-size',
           'YAMNET_EMBEDDING_BATCH_SIZE',
           'clips per YAMNet graph call in the embedding step', positive_int),
    Option('max_audio_seconds', '--max-audio-seconds',
           'YAMNET_MAX_AUDIO_SECONDS',
           'longest audio the pushed model accepts, in seconds; longer '
           'requests are refused before any decoding', positive_float),
    Option('export_tflite', '--tflite', 'YAMNET_EXPORT_TFLITE',
           'push TFLite models (float, int8) beside the SavedModel, each '
           'checked on the test clips; --no-tflite pushes the SavedModel '
           'alone', boolean),
    Option('hyperparameters.epochs', '--epochs', 'YAMNET_EPOCHS',
           'most training epochs; early stopping usually ends sooner',
           positive_int),
    Option('hyperparameters.batch_size', '--batch-size', 'YAMNET_BATCH_SIZE',
           'training batch size (patches)', positive_int),
    Option('hyperparameters.learning_rate', '--learning-rate',
           'YAMNET_LEARNING_RATE', 'Adam learning rate', float),
    Option('hyperparameters.dropout', '--dropout', 'YAMNET_DROPOUT',
           'dropout on the hidden layer while training', float),
    Option('hyperparameters.patience', '--patience', 'YAMNET_PATIENCE',
           'epochs without a better validation loss before stopping', int),
    Option('hyperparameters.seed', '--training-seed', 'YAMNET_TRAINING_SEED',
           'seed of the head\'s initial weights and shuffling', int),
    Option('hyperparameters.refit', '--refit', 'YAMNET_REFIT',
           'after early stopping, train afresh on the train and eval folds '
           'for the epochs it chose', boolean),
    Option('hyperparameters.warm_start_epochs', '--warm-start-epochs',
           'YAMNET_WARM_START_EPOCHS',
           'when the data grew, start from the last blessed model of the same '
           'classes and train at most this many epochs (0: always from fresh '
           'weights)', non_negative_int),
    Option('beam_pipeline_args', '--beam-arg', 'YAMNET_BEAM_ARGS',
           'Beam pipeline argument, repeatable, e.g. '
           '--beam-arg=--direct_running_mode=multi_processing (environment: '
           'shell-quoted, space-separated)', shlex.split, shown_default='none'),
    Option('enable_cache', '--cache', 'YAMNET_ENABLE_CACHE',
           'reuse the outputs of components whose inputs are unchanged; '
           '--no-cache reruns every component', boolean),
)
BY_FIELD = {option.field: option for option in OPTIONS}
# Options a local or Airflow run reads, and the subsets other commands take.
ALL_FIELDS = tuple(BY_FIELD)
TRAINING_FIELDS = tuple(f for f in ALL_FIELDS
                        if f.startswith('hyperparameters.'))


def add_flags(parser: argparse.ArgumentParser, fields: Sequence[str],
              defaults: Optional[Mapping[str, str]] = None) -> None:
  """Adds the flags of `fields`; `defaults` overrides how a default reads."""
  group = parser.add_argument_group('pipeline configuration (flag, else '
                                    'environment variable, else default)')
  for name in fields:
    option = BY_FIELD[name]
    shown = (defaults or {}).get(name) or option.default_text
    kwargs: Dict[str, Any] = dict(dest=option.dest, default=None,
                                  help=f'{option.help} (${option.env}; '
                                  f'default: {shown})')
    if option.field == 'beam_pipeline_args':
      group.add_argument(option.flag, action='append', metavar='ARG',
                         **kwargs)
    elif option.parse is boolean:
      group.add_argument(option.flag, action=argparse.BooleanOptionalAction,
                         **kwargs)
    else:
      group.add_argument(option.flag, type=option.parse, **kwargs)


def _given(option: Option, args: argparse.Namespace,
           environ: Mapping[str, str]) -> Any:
  """The flag's value, else the environment's, else None."""
  value = getattr(args, option.dest, None) if args is not None else None
  if value is not None:
    return value
  text = environ.get(option.env)
  if text is None or text == '':
    return None
  try:
    return option.parse(text)
  except (argparse.ArgumentTypeError, ValueError) as error:
    raise ValueError(f'${option.env}: {error}') from None


def build_config(fields: Sequence[str],
                 args: Optional[argparse.Namespace] = None,
                 environ: Mapping[str, str] = os.environ,
                 defaults: Optional[Mapping[str, Any]] = None,
                 **fixed: Any) -> configs.PipelineConfig:
  """The config the flags and environment give.

  `defaults` replace the config's defaults for one runner (e.g. Airflow's
  output folder); `fixed` sets fields a command decides itself (e.g. the
  demo's data root), over flags and environment. A missing data root is the
  empty string, which the runners refuse with a message naming the option.
  """
  values: Dict[str, Any] = {'data_root': '', **(defaults or {})}
  training: Dict[str, Any] = {}
  for name in fields:
    if name in fixed:
      continue
    option = BY_FIELD[name]
    value = _given(option, args, environ)
    if value is None:
      continue
    value = option.resolve(tuple(value) if isinstance(value, list) else value)
    owner, _, field_name = name.rpartition('.')
    (training if owner else values)[field_name] = value
  values.update(fixed)
  if training:
    values['hyperparameters'] = dataclasses.replace(
        values.get('hyperparameters', configs.default_of('hyperparameters')),
        **training)
  return configs.PipelineConfig(**values)
