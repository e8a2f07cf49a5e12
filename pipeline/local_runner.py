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
from typing import Optional

from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local import local_dag_runner

from components.yamnet_embedding import embed
from components.esc50_example_gen import spans
from pipeline import configs
from pipeline import pipeline as pipeline_def
from pipeline import report
from pipeline import run_summary
from yamnet import loader


def check_inputs(config: configs.PipelineConfig) -> str:
  """Fails before any component starts if the data or the model is unusable.

  Returns the YAMNet fingerprint recorded with the embeddings.
  """
  table = spans.span_table(config.data_root, config.span_window,
                           config.classes)
  logging.info('%d span(s) of %s listed in %s', len(table),
               ', '.join(spans.classes_of(table)), config.data_root)
  loader.load_yamnet(config.yamnet_handle)
  return loader.yamnet_fingerprint(config.yamnet_handle)


def build_pipeline(config: configs.PipelineConfig,
                   yamnet_fingerprint: str) -> tfx_pipeline.Pipeline:
  return pipeline_def.create_pipeline(
      config, yamnet_fingerprint, pipeline_def.local_deployment(config))


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


def run_local(config: configs.PipelineConfig) -> run_summary.RunSummary:
  """Runs the whole pipeline; returns the run summary read from MLMD.

  Raises on a failed component (after the summary of what ran is logged).
  """
  set_tf_threads()
  fingerprint = check_inputs(config)
  with exclusive_output(config.output_dir):
    pipeline = build_pipeline(config, fingerprint)
    try:
      local_dag_runner.LocalDagRunner().run(pipeline)
    finally:
      summary = latest_summary(config)
      if summary:
        logging.info('\n%s', run_summary.format_summary(summary))
    summary = dataclasses.replace(
        summary, report_path=report.write_report(config, summary))
  return summary


def latest_summary(
    config: configs.PipelineConfig) -> Optional[run_summary.RunSummary]:
  if not os.path.exists(config.metadata_path):
    return None
  try:
    return run_summary.collect_summary(
        metadata.sqlite_metadata_connection_config(
            config.metadata_path), config.pipeline_name)
  except LookupError:
    return None
