"""The Airflow DAG under the real Airflow: loaded, run, and rerun from cache.

Airflow runs in subprocesses with their own AIRFLOW_HOME and SQLite database,
configured by environment variables before Airflow is imported, so this
session's Python never imports Airflow.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from yamnet import standin
from data import synthetic

DAG_ID = 'yamnet-sound_classifier'
AIRFLOW = str(pathlib.Path(sys.executable).with_name('airflow'))
FIRST_RUN, SECOND_RUN = '2024-01-08', '2024-01-15'
CORE_TASKS = ('Esc50ExampleGen', 'YamnetEmbeddingGen', 'Transform', 'Trainer',
              'latest_blessed_model_resolver', 'Evaluator', 'patch_evaluator',
              'Pusher')

# Run in a subprocess: what Airflow's scheduler sees in the dags folder.
_DAGBAG_FACTS = """
import json, sys
from airflow.models import DagBag
bag = DagBag(include_examples=False)
facts = {'import_errors': bag.import_errors, 'dags': {}}
for dag_id, dag in bag.dags.items():
  facts['dags'][dag_id] = {
      'schedule': dag.schedule_interval, 'catchup': dag.catchup,
      'max_active_runs': dag.max_active_runs, 'tasks': dag.task_ids,
      'pusher_upstream': sorted(dag.get_task('Pusher').upstream_task_ids)}
with open(sys.argv[1], 'w') as f:
  json.dump(facts, f)
"""


def _run(command, env, log):
  """Runs command with output to log; returns the exit code."""
  with open(log, 'w') as f:
    return subprocess.run(command, env=env, stdout=f, stderr=subprocess.STDOUT,
                          timeout=480, check=False).returncode


def _tail(log) -> str:
  return ''.join(pathlib.Path(log).read_text().splitlines(True)[-40:])


def _versions(serving_dir: pathlib.Path):
  return sorted(p.name for p in serving_dir.iterdir()) if serving_dir.exists(
  ) else []


@pytest.fixture(scope='module')
def airflow(tmp_path_factory):
  """Sets up Airflow, loads the DAG, and runs it twice on unchanged inputs."""
  root = tmp_path_factory.mktemp('airflow')
  dags = root / 'dags'
  dags.mkdir()
  (dags / 'yamnet_dag.py').write_text(
      'from pipeline.airflow_dag import DAG  # Airflow collects it.\n')
  data_root = root / 'esc50'
  synthetic.write_synthetic_esc50(str(data_root), classes=['dog', 'cat'],
                                  clips_per_class_per_fold=2, seed=0)
  yamnet = standin.build_standin_yamnet(str(root / 'yamnet'), seed=0)
  output = root / 'output'
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(('AIRFLOW', 'YAMNET_'))}
  env.update({
      'AIRFLOW_HOME': str(root / 'home'),
      'AIRFLOW__CORE__DAGS_FOLDER': str(dags),
      'AIRFLOW__CORE__LOAD_EXAMPLES': 'False',
      'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN': f'sqlite:///{root}/airflow.db',
      # Importing TFX and TensorFlow takes longer than the default 30 s.
      'AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT': '600',
      'ESC50_ROOT': str(data_root),
      'YAMNET_HANDLE': yamnet,
      'YAMNET_CLASSES': 'dog,cat',
      'YAMNET_OUTPUT_DIR': str(output),
      # No test here reads the on-device models (tests/test_pusher_tflite.py).
      'YAMNET_EXPORT_TFLITE': 'false',
      'TF_CPP_MIN_LOG_LEVEL': '2',
  })
  result = {'output': output, 'logs': {}, 'codes': {}}

  def run(name, command):
    result['logs'][name] = root / f'{name}.log'
    result['codes'][name] = _run(command, env, result['logs'][name])

  run('migrate', [AIRFLOW, 'db', 'migrate'])
  assert result['codes']['migrate'] == 0, _tail(result['logs']['migrate'])
  run('dagbag', [sys.executable, '-c', _DAGBAG_FACTS, str(root / 'bag.json')])
  assert result['codes']['dagbag'] == 0, _tail(result['logs']['dagbag'])
  result['dagbag'] = json.loads((root / 'bag.json').read_text())
  # What a scheduler with none of the pipeline's variables set parses: the
  # default YAMNet handle is a TF Hub URL, unreachable here, so hashing the
  # model at parse time would be an import error.
  bare_env = {k: v for k, v in env.items()
              if k != 'ESC50_ROOT' and not k.startswith('YAMNET_')}
  bare_env['HOME'] = str(root / 'bare_home')
  result['logs']['bare'] = root / 'bare.log'
  result['codes']['bare'] = _run(
      [sys.executable, '-c', _DAGBAG_FACTS, str(root / 'bare.json')],
      bare_env, result['logs']['bare'])
  assert result['codes']['bare'] == 0, _tail(result['logs']['bare'])
  result['bare_dagbag'] = json.loads((root / 'bare.json').read_text())
  serving = output / 'serving' / 'sound_classifier'
  run(FIRST_RUN, [AIRFLOW, 'dags', 'test', DAG_ID, FIRST_RUN])
  result['versions_after_first'] = _versions(serving)
  run(SECOND_RUN, [AIRFLOW, 'dags', 'test', DAG_ID, SECOND_RUN])
  result['versions_after_second'] = _versions(serving)
  result['serving'] = serving
  return result


def test_dag_folder_loads_without_import_errors(airflow):
  assert airflow['dagbag']['import_errors'] == {}
  assert list(airflow['dagbag']['dags']) == [DAG_ID]


def test_dag_loads_with_no_pipeline_variables_set(airflow):
  assert airflow['bare_dagbag']['import_errors'] == {}
  assert list(airflow['bare_dagbag']['dags']) == [DAG_ID]


def test_weekly_schedule_without_catchup_one_run_at_a_time(airflow):
  dag = airflow['dagbag']['dags'][DAG_ID]
  assert dag['schedule'] == '@weekly'
  assert dag['catchup'] is False
  assert dag['max_active_runs'] == 1


def test_each_component_is_a_task_and_pusher_waits_for_evaluator(airflow):
  dag = airflow['dagbag']['dags'][DAG_ID]
  assert set(CORE_TASKS) <= set(dag['tasks'])
  assert 'Evaluator' in dag['pusher_upstream']


def test_run_pushes_a_servable_model(airflow):
  assert airflow['codes'][FIRST_RUN] == 0, _tail(airflow['logs'][FIRST_RUN])
  (version,) = airflow['versions_after_first']
  assert version.isdigit()
  assert (airflow['serving'] / version / 'saved_model.pb').is_file()


def test_rerun_on_unchanged_inputs_is_cached_and_pushes_nothing(airflow):
  assert airflow['codes'][SECOND_RUN] == 0, _tail(airflow['logs'][SECOND_RUN])
  assert airflow['versions_after_second'] == airflow['versions_after_first']
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = str(airflow['output'] / 'metadata.sqlite')
  run_id = f'manual__{SECOND_RUN}T00:00:00+00:00'
  states = {
      e.properties['component_id'].string_value: e.last_known_state
      for e in metadata_store.MetadataStore(config).get_executions()
      if e.properties['run_id'].string_value == run_id}
  assert set(CORE_TASKS) <= set(states)
  assert set(states.values()) == {metadata_store_pb2.Execution.CACHED}
