"""The whole pipeline on Beam's portable runner: a local job service and a
pool of SDK worker processes (the path Flink, Spark and Dataflow take).

The same synthetic clips and stand-in YAMNet as the session's DirectRunner
run (`demo_run`), so the two runs' embeddings can be compared patch by patch.
"""

import dataclasses
import os
import re

import numpy as np
import pytest

from components import artifact_properties as properties
from components import quarantine
from components.yamnet_embedding import executor as embedding_gen
from pipeline import demo
from pipeline import local_runner
from pipeline import mlmd_runs
from pipeline import nodes
from pipeline import portable_runner

from tfx_artifacts import first_run_embeddings
from tfx_artifacts import latest_run

MISSING = '5-999999-A-0.wav'


@pytest.fixture(scope='module')
def portable_run(demo_run, tmp_path_factory):
  direct_config, _ = demo_run
  output = str(tmp_path_factory.mktemp('portable'))
  data_root, yamnet_dir = demo.prepare_demo_inputs(
      output, list(direct_config.classes), clips_per_class_per_fold=3, seed=0)
  # One listed clip whose file is missing: quarantined by a Beam worker.
  with open(os.path.join(data_root, 'meta', 'esc50.csv'), 'a') as f:
    f.write(f'{MISSING},5,0,dog,True,999999,A\n')
  logs = str(tmp_path_factory.mktemp('beam_services'))
  with portable_runner.local_services(logs) as beam_args:
    config = dataclasses.replace(
        direct_config, data_root=data_root, yamnet_handle=yamnet_dir,
        output_dir=output, beam_pipeline_args=tuple(beam_args),
        export_tflite=False)
    summary = local_runner.run_local(config)
  return config, summary, logs


def test_every_component_completes_on_the_portable_runner(portable_run):
  config, summary, _ = portable_run
  assert summary.status == 'complete'
  assert all(c.status == 'complete' for c in summary.components.values())
  assert any(a.startswith('--runner=PortableRunner')
             for a in config.beam_pipeline_args)
  # Counters reach the executors through the job service.
  assert summary.clips.listed == 31 and summary.clips.embedded == 30
  assert summary.clips.quarantined == 1
  assert summary.clips.patches == 300
  assert summary.blessed and summary.pushed


def test_embeddings_equal_the_direct_runners(portable_run, demo_run):
  portable = first_run_embeddings(portable_run[0])
  direct = first_run_embeddings(demo_run[0])
  assert set(portable) == set(direct)
  difference = max(float(np.max(np.abs(portable[k] - direct[k])))
                   for k in direct)
  assert difference < 1e-4


def test_quarantine_is_written_by_the_workers(portable_run):
  config, _, _ = portable_run
  run = latest_run(config)
  records = quarantine.read_quarantine(
      run.single(nodes.EXAMPLE_GEN, 'quarantine').uri)
  assert [r['filename'] for r in records] == [MISSING]
  assert 'file not found' in records[0]['reason']


def test_each_job_runs_on_its_own_worker_process_loading_yamnet_once(
    portable_run):
  """The pool starts a fresh SDK worker process for every Beam job (one per
  component: nothing is shared between them but files), and the embedding
  job's worker loads YAMNet once (a pickled model would load it nowhere; a
  load per bundle or thread would count more). Beam's local job service gives
  each job one worker; a cluster gives it many, each loading YAMNet once."""
  config, _, logs = portable_run
  with open(os.path.join(logs, 'job_service.log')) as f:
    jobs = f.read().count('Running job')
  with open(os.path.join(logs, 'worker_pool.log')) as f:
    started = re.findall(r'worker_id="(worker_\d+)"', f.read())
  assert jobs >= 5
  assert len(started) == len(set(started)) == jobs
  embeddings = latest_run(config).single(nodes.EMBEDDING_GEN,
                                          embedding_gen.EMBEDDINGS_KEY)
  assert mlmd_runs.int_property(embeddings, properties.YAMNET_LOADS) == 1
