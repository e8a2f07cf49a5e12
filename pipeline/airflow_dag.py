"""The pipeline as an Airflow DAG (TFX's AirflowDagRunner), configured by env.

Deploy: install this project into Airflow's environment and put a file in the
dags folder that holds `from pipeline.airflow_dag import DAG`. Each component
is one task. All runs share the MLMD SQLite store under the output directory,
so a scheduled run whose inputs did not change is served from cache, and
Pusher pushes only a model the Evaluator blessed.

Settings are environment variables, read whenever Airflow parses the DAG:
every option of the command line by its variable (README, "Configuration":
ESC50_ROOT, YAMNET_HANDLE, YAMNET_CLASSES, YAMNET_MIN_ACCURACY,
YAMNET_EMBEDDING_BATCH_SIZE, YAMNET_EPOCHS, YAMNET_BEAM_ARGS, ...), with the
same defaults, except:
  YAMNET_OUTPUT_DIR  output root on storage every worker shares (default:
                     ~/yamnet-airflow).
  YAMNET_SCHEDULE    Airflow schedule, a preset or cron expression
                     (default: @weekly).

Parsing is cheap and never fails for want of settings: the scheduler parses
the file every 30 s by default. Without ESC50_ROOT the DAG still loads, and
its first task fails saying what to set. The YAMNet fingerprint, which reads
every weight file, is computed when the embedding task starts, not at parse.
"""

import datetime
import os
from typing import Mapping

from airflow import models
from tfx.orchestration.airflow import airflow_dag_runner

from components.yamnet_embedding import executor as embedding_executor
from pipeline import configs
from pipeline import local_runner
from pipeline import options
from yamnet import loader

DEFAULT_SCHEDULE = '@weekly'
DEFAULT_OUTPUT_DIR = '~/yamnet-airflow'
# With catchup off, only the latest interval after this date is ever run.
START_DATE = datetime.datetime(2024, 1, 1)
# Stands for the YAMNet fingerprint until the embedding task computes it.
DEFERRED_FINGERPRINT = 'deferred'


class _LegacyDriverFixes:
  """Driver mixin for the legacy launcher that AirflowDagRunner uses.

  Each task's driver resolves its execution properties before the cache is
  consulted: here the embedding task computes the YAMNet fingerprint, so a
  changed model is noticed at run time without hashing it at every parse,
  and a DAG without a data root fails with a message instead of reading the
  wrong folder.

  The launcher names output artifacts `<output>:<run id>`, but MLMD requires
  names unique per artifact type, so two components with the same output (the
  two StatisticsGens) collide in one run: names here include the component.
  It also records one input event per key, so an artifact under two keys
  fails the run; that happens when the latest blessed model is the candidate
  itself (a rerun with unchanged inputs) and is dropped as its own baseline.
  """

  def resolve_exec_properties(self, exec_properties, pipeline_info,
                              component_info):
    if exec_properties.get('input_base') == '':
      raise ValueError(
          f'No data root: set {options.BY_FIELD["data_root"].env} in the '
          'environment of the Airflow scheduler and workers.')
    key = embedding_executor.YAMNET_FINGERPRINT_KEY
    if exec_properties.get(key) == DEFERRED_FINGERPRINT:
      exec_properties = dict(exec_properties)
      exec_properties[key] = loader.yamnet_fingerprint(
          exec_properties[embedding_executor.YAMNET_HANDLE_KEY])
    return super().resolve_exec_properties(exec_properties, pipeline_info,
                                           component_info)

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


def config_from_env(
    environ: Mapping[str, str] = os.environ) -> configs.PipelineConfig:
  """The pipeline configuration the environment describes."""
  return options.build_config(
      options.ALL_FIELDS, environ=environ,
      defaults={'output_dir': os.path.expanduser(DEFAULT_OUTPUT_DIR)})


def create_dag(config: configs.PipelineConfig,
               schedule: str = DEFAULT_SCHEDULE) -> models.DAG:
  """One task per component; at most one run at a time, no backfill."""
  # The MLMD SQLite file is created on first use, but not its folder.
  os.makedirs(config.output_dir, exist_ok=True)
  pipeline = local_runner.build_pipeline(config, DEFERRED_FINGERPRINT)
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


DAG = create_dag(config_from_env(),
                 os.environ.get('YAMNET_SCHEDULE', DEFAULT_SCHEDULE))
