"""Runs the pipeline on this machine with LocalDagRunner and SQLite MLMD.

Layout under the output directory:
  pipeline_root/          artifacts of every component run
  metadata.sqlite         the MLMD store (lineage, caching)
  serving/<model_name>/   pushed versions, as TF Serving loads them
  report.html             the latest run's report (reports/<run id>.html: each)
"""

import contextlib
import dataclasses
import fcntl
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

from tfx import v1 as tfx

from components import beam_options
from components.yamnet import loader
from components.yamnet_embedding import embed
from data import esc50_csv
from pipeline import pipeline as pipeline_def
from pipeline import report
from pipeline import run_summary


@dataclasses.dataclass
class RunConfig:
  """What a user chooses for one run (the CLI's flags)."""
  data_root: str
  yamnet_handle: str
  classes: Sequence[str]
  output_dir: str
  model_name: str = 'sound_classifier'
  train_folds: Sequence[int] = (1, 2, 3)
  eval_folds: Sequence[int] = (4,)
  test_folds: Sequence[int] = (5,)
  min_accuracy: float = 0.6
  max_quarantine_fraction: float = 0.05
  hyperparameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
  beam_pipeline_args: List[str] = dataclasses.field(default_factory=list)
  enable_cache: bool = True

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


def check_inputs(config: RunConfig) -> str:
  """Fails before any component starts if the data or the model is unusable.

  Returns the YAMNet fingerprint recorded with the embeddings.
  """
  rows = esc50_csv.select_classes(
      esc50_csv.read_esc50_csv(config.data_root), config.classes)
  logging.info('%d clips of %s listed in %s', len(rows),
               ', '.join(config.classes), config.data_root)
  loader.load_yamnet(config.yamnet_handle)
  return loader.yamnet_fingerprint(config.yamnet_handle)


def build_pipeline(config: RunConfig, yamnet_fingerprint: str):
  return pipeline_def.create_pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      data_root=config.data_root,
      yamnet_handle=config.yamnet_handle,
      yamnet_fingerprint=yamnet_fingerprint,
      classes=config.classes,
      serving_model_dir=config.serving_model_dir,
      train_folds=config.train_folds,
      eval_folds=config.eval_folds,
      test_folds=config.test_folds,
      min_accuracy=config.min_accuracy,
      max_quarantine_fraction=config.max_quarantine_fraction,
      hyperparameters=config.hyperparameters,
      beam_pipeline_args=beam_options.local_beam_args(
          config.beam_pipeline_args),
      metadata_connection_config=tfx.orchestration.metadata
      .sqlite_metadata_connection_config(config.metadata_path),
      enable_cache=config.enable_cache)


class RunInProgressError(RuntimeError):
  """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive_output(output_dir: str):
  """Holds an exclusive lock on the output directory for one run.

  Two runs on one pipeline root and MLMD store would race on the SQLite file
  and on the serving directory; the second one fails at once instead.
  """
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, '.run.lock')
  with open(path, 'a+', encoding='utf-8') as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      holder = lock.read().strip() or 'unknown'
      raise RunInProgressError(
          f'another run (pid {holder}) is using {output_dir}; wait for it '
          'or choose another --output') from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    try:
      yield
    finally:
      lock.truncate(0)
      fcntl.flock(lock, fcntl.LOCK_UN)


def set_tf_threads() -> None:
  """One TF thread per op, as many ops at once as cores, for this process.

  Every component runs in this process, whose TF thread pools are made by
  its first op, so this comes before it. The embedding step runs fastest so,
  and no other component ran slower (docs/performance.md).
  """
  embed.configure_tf_threads(os.cpu_count() or 1)


def run_local(config: RunConfig) -> Dict[str, Any]:
  """Runs the whole pipeline; returns the run summary read from MLMD.

  Raises on a failed component (after the summary of what ran is logged).
  """
  set_tf_threads()
  fingerprint = check_inputs(config)
  with exclusive_output(config.output_dir):
    pipeline = build_pipeline(config, fingerprint)
    try:
      tfx.orchestration.LocalDagRunner().run(pipeline)
    finally:
      summary = latest_summary(config)
      if summary:
        logging.info('\n%s', run_summary.format_summary(summary))
    summary['report_path'] = report.write_report(config, summary)
  return summary


def latest_summary(config: RunConfig) -> Optional[Dict[str, Any]]:
  if not os.path.exists(config.metadata_path):
    return None
  try:
    return run_summary.collect_summary(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path), config.pipeline_name)
  except LookupError:
    return None
