"""The pipeline as an Airflow DAG (TFX's AirflowDagRunner), configured by env.

Deploy: install this project into Airflow's environment and put a file in the
dags folder that holds `from pipeline.airflow_dag import DAG`. Each component
is one task. All runs share the MLMD SQLite store under the output directory,
so a scheduled run whose inputs did not change is served from cache, and
Pusher pushes only a model the Evaluator blessed.

Environment variables, read whenever Airflow parses the DAG:
  ESC50_ROOT           ESC-50 folder holding meta/esc50.csv and audio/
                       (required).
  YAMNET_HANDLE        YAMNet TF Hub URL or SavedModel path (default:
                       https://tfhub.dev/google/yamnet/1).
  YAMNET_CLASSES       Comma-separated ESC-50 classes, "esc10" or "all"
                       (default: dog,cat).
  YAMNET_OUTPUT_DIR    Output root on storage every worker shares:
                       pipeline_root/, metadata.sqlite, serving/<model name>/
                       (default: ~/yamnet-airflow).
  YAMNET_SCHEDULE      Airflow schedule, a preset or cron expression
                       (default: @weekly).
  YAMNET_MODEL_NAME    Names the DAG (yamnet-<name>) and the serving folder
                       (default: sound_classifier).
  YAMNET_MIN_ACCURACY  Lowest test-fold accuracy that may be pushed
                       (default: 0.6).
  YAMNET_BEAM_ARGS     Beam pipeline arguments, shell-quoted (default: none).
"""

import datetime
import os
import shlex
from typing import Mapping

from airflow import models
from tfx.orchestration.airflow import airflow_dag_runner

from components.yamnet import loader
from data import esc50_classes
from pipeline import local_runner

DEFAULT_SCHEDULE = '@weekly'
# With catchup off, only the latest interval after this date is ever run.
START_DATE = datetime.datetime(2024, 1, 1)


class _LegacyDriverFixes:
  """Driver mixin for the legacy launcher that AirflowDagRunner uses.

  That launcher names output artifacts `<output>:<run id>`, but MLMD requires
  names unique per artifact type, so two components with the same output (the
  two StatisticsGens) collide in one run: names here include the component.
  It also records one input event per key, so an artifact under two keys
  fails the run; that happens when the latest blessed model is the candidate
  itself (a rerun with unchanged inputs) and is dropped as its own baseline.
  """

  def resolve_input_artifacts(self, input_dict, exec_properties, driver_args,
                              pipeline_info):
    result = super().resolve_input_artifacts(input_dict, exec_properties,
                                             driver_args, pipeline_info)
    seen = set()
    for key, artifacts in result.items():
      result[key] = [a for a in artifacts if a.id not in seen]
      seen.update(a.id for a in artifacts)
    return result

  def _prepare_output_artifacts(self, input_artifacts, output_dict,
                                exec_properties, execution_id, pipeline_info,
                                component_info):
    result = super()._prepare_output_artifacts(
        input_artifacts, output_dict, exec_properties, execution_id,
        pipeline_info, component_info)
    for key, artifacts in result.items():
      for artifact in artifacts:
        artifact.name = (f'{component_info.component_id}.{key}:'
                         f'{pipeline_info.run_id}')
    return result


def run_config_from_env(
    environ: Mapping[str, str] = os.environ) -> local_runner.RunConfig:
  """The run configuration the environment variables above describe."""
  data_root = environ.get('ESC50_ROOT')
  if not data_root:
    raise ValueError('Set ESC50_ROOT to the ESC-50 folder (meta/esc50.csv, '
                     'audio/) for the yamnet Airflow DAG.')
  return local_runner.RunConfig(
      data_root=data_root,
      yamnet_handle=environ.get('YAMNET_HANDLE',
                                loader.DEFAULT_YAMNET_HANDLE),
      classes=esc50_classes.parse_classes(
          environ.get('YAMNET_CLASSES', ','.join(
              esc50_classes.DEFAULT_CLASSES))),
      output_dir=environ.get('YAMNET_OUTPUT_DIR',
                             os.path.expanduser('~/yamnet-airflow')),
      model_name=environ.get('YAMNET_MODEL_NAME', 'sound_classifier'),
      min_accuracy=float(environ.get('YAMNET_MIN_ACCURACY', '0.6')),
      beam_pipeline_args=shlex.split(environ.get('YAMNET_BEAM_ARGS', '')))


def create_dag(config: local_runner.RunConfig,
               schedule: str = DEFAULT_SCHEDULE) -> models.DAG:
  """One task per component; at most one run at a time, no backfill."""
  # The MLMD SQLite file is created on first use, but not its folder.
  os.makedirs(config.output_dir, exist_ok=True)
  pipeline = local_runner.build_pipeline(
      config, loader.yamnet_fingerprint(config.yamnet_handle))
  for node in pipeline.components:
    node.driver_class = type(node.driver_class.__name__,
                             (_LegacyDriverFixes, node.driver_class), {})
  return airflow_dag_runner.AirflowDagRunner(
      airflow_dag_runner.AirflowPipelineConfig(airflow_dag_config={
          'schedule': schedule,
          'start_date': START_DATE,
          'catchup': False,
          'max_active_runs': 1,
      })).run(pipeline)


DAG = create_dag(run_config_from_env(),
                 os.environ.get('YAMNET_SCHEDULE', DEFAULT_SCHEDULE))
