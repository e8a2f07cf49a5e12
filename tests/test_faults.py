"""A run killed with SIGKILL during embedding reruns to the same result."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import splits
from pipeline import demo
from models import hyperparameters
from pipeline import configs
from pipeline import local_runner
from tfx_artifacts import read_split
from tfx_artifacts import run_embedding

CLASSES = ['dog', 'cat']
CLIPS_PER_CLASS_PER_FOLD = 20


def _embedding_state(metadata_path):
  """Last known state of YamnetEmbeddingGen's newest execution, or None."""
  if not os.path.exists(metadata_path):
    return None
  try:
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(metadata_path))
    executions = [e for e in store.get_executions()
                  if 'YamnetEmbeddingGen' in store.get_execution_types_by_id(
                      [e.type_id])[0].name]
  except Exception:  # pylint: disable=broad-except
    return None  # The store is still being created by the other process.
  return max(executions, key=lambda e: e.id).last_known_state if executions \
      else None


def _patches(examples):
  out = {}
  for split in splits.ALL_FOLD_SPLITS:
    for patch in read_split(examples, split):
      f = patch.features.feature
      out[(f['clip_id'].bytes_list.value[0], f['patch_index'].int64_list
           .value[0])] = np.array(f['embedding'].float_list.value)
  return out


def test_killed_run_reruns_to_the_uninterrupted_result(tmp_path):
  output = str(tmp_path)
  data_root, yamnet = demo.prepare_demo_inputs(
      output, CLASSES, CLIPS_PER_CLASS_PER_FOLD, seed=0)
  config = configs.PipelineConfig(
      data_root=data_root, yamnet_handle=yamnet, classes=CLASSES,
      output_dir=output, export_tflite=False,
      hyperparameters=hyperparameters.Hyperparameters(epochs=5))
  process = subprocess.Popen(
      [sys.executable, '-m', 'pipeline.cli', 'demo', '--output', output,
       '--clips-per-class-per-fold', str(CLIPS_PER_CLASS_PER_FOLD),
       '--epochs', '5', '--no-tflite'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
      start_new_session=True)
  deadline = time.time() + 300
  while (_embedding_state(config.metadata_path) !=
         metadata_store_pb2.Execution.RUNNING):
    assert process.poll() is None, 'the run ended before embedding started'
    assert time.time() < deadline, 'embedding did not start within 5 min'
    time.sleep(0.2)
  time.sleep(1.0)
  os.killpg(process.pid, signal.SIGKILL)
  process.wait()
  assert (_embedding_state(config.metadata_path) ==
          metadata_store_pb2.Execution.RUNNING), 'killed before it finished'

  summary = local_runner.run_local(config).to_json()

  assert summary['status'] == 'complete'
  assert summary['components']['YamnetEmbeddingGen']['status'] == 'complete'
  assert summary['clips']['embedded'] == summary['clips']['listed'] == 200
  # The rerun's embeddings equal an uninterrupted embedding of the same clips.
  store = metadata_store.MetadataStore(
      metadata.sqlite_metadata_connection_config(config.metadata_path))
  [clips_type] = [t for t in store.get_artifact_types() if t.name == 'Examples']
  examples = [a for a in store.get_artifacts_by_type(clips_type.name)
              if '/Esc50ExampleGen/' in a.uri and
              a.state == metadata_store_pb2.Artifact.LIVE]
  rerun_embeddings = [a for a in store.get_artifacts_by_type(clips_type.name)
                      if '/YamnetEmbeddingGen/' in a.uri and
                      a.state == metadata_store_pb2.Artifact.LIVE]
  assert len(examples) == 1 and len(rerun_embeddings) == 1
  clips = standard_artifacts.Examples()
  clips.set_mlmd_artifact(examples[0])
  embedded = standard_artifacts.Examples()
  embedded.set_mlmd_artifact(rerun_embeddings[0])
  reference, _ = run_embedding(tmp_path / 'reference', clips, yamnet)
  got, expected = _patches(embedded), _patches(reference)
  assert got.keys() == expected.keys() and len(got) == 2000
  assert max(np.max(np.abs(got[k] - expected[k])) for k in got) < 1e-5
  assert artifact_utils.decode_split_names(embedded.split_names) == list(
      splits.ALL_FOLD_SPLITS)
