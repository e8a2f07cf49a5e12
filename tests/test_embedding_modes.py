"""The embedding step gives the same result in every DirectRunner mode.

Workers in other processes load their own YAMNet and run TF with their own
thread count, so their embeddings must still equal the in-process ones.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from components import artifact_properties as properties
from components import quarantine
from components import splits
from components.yamnet_embedding import executor
from data import synthetic
from tfx_artifacts import read_split
from tfx_artifacts import run_embedding
from tfx_artifacts import run_example_gen

IN_MEMORY = ['--direct_running_mode=in_memory']
MULTI_PROCESSING = ['--direct_running_mode=multi_processing',
                    '--direct_num_workers=2']


def _patches(embeddings):
  """(split, clip_id, patch_index) -> (embedding, the other features)."""
  patches = {}
  for split in splits.ALL_FOLD_SPLITS:
    for patch in read_split(embeddings, split):
      features = patch.features.feature
      key = (split, features['clip_id'].bytes_list.value[0].decode(),
             features['patch_index'].int64_list.value[0])
      assert key not in patches, f'patch {key} written twice'
      embedding = np.array(features['embedding'].float_list.value)
      del features['embedding']
      patches[key] = (embedding, patch)
  return patches


@pytest.fixture(scope='module')
def runs(tmp_path_factory, standin_yamnet):
  """The same clip Examples embedded in_memory and by two worker processes."""
  out = tmp_path_factory.mktemp('embedding_modes')
  root = str(out / 'esc50')
  synthetic.write_synthetic_esc50(root, classes=['dog', 'cat'],
                                  clips_per_class_per_fold=1, seed=11)
  clips, _ = run_example_gen(out / 'clips', root, ['dog', 'cat'])
  return clips, {
      mode: run_embedding(out / mode, clips, standin_yamnet, args)
      for mode, args in (('in_memory', IN_MEMORY),
                         ('multi_processing', MULTI_PROCESSING))}


def test_multi_processing_embeddings_equal_in_memory(runs):
  _, by_mode = runs
  expected = _patches(by_mode['in_memory'][0])
  got = _patches(by_mode['multi_processing'][0])
  # 2 clips per fold, 10 patches each.
  assert len(expected) == 100
  assert got.keys() == expected.keys()
  for key, (embedding, patch) in expected.items():
    assert np.max(np.abs(got[key][0] - embedding)) < 1e-5, key
    assert got[key][1] == patch, key


def test_multi_processing_records_the_same_properties(runs):
  clips, by_mode = runs
  (in_memory, _), (parallel, failures) = (by_mode['in_memory'],
                                          by_mode['multi_processing'])
  for name in (properties.CLIPS_EMBEDDED, properties.PATCHES,
               properties.CLIPS_QUARANTINED):
    assert (parallel.get_int_custom_property(name) ==
            in_memory.get_int_custom_property(name)), name
  assert parallel.get_int_custom_property(properties.CLIPS_EMBEDDED) == 10
  assert parallel.split_names == clips.split_names
  assert quarantine.read_quarantine(failures.uri) == []


def test_worker_processes_share_the_cores():
  cores = os.cpu_count()
  assert executor.worker_cores(MULTI_PROCESSING) == max(1, cores // 2)
  assert executor.worker_cores(
      ['--direct_running_mode=multi_processing',
       f'--direct_num_workers={2 * cores}']) == 1
  # Workers in one process have all its cores.
  assert executor.worker_cores(IN_MEMORY) == cores
  assert executor.worker_cores([]) == cores
  assert executor.worker_cores(
      ['--direct_running_mode=multi_threading',
       '--direct_num_workers=2']) == cores
  # Another runner's machines are not this one.
  assert executor.worker_cores(['--runner=DataflowRunner']) is None


def test_workers_in_this_process():
  assert executor.workers_in_this_process([])
  assert executor.workers_in_this_process(
      ['--direct_running_mode=multi_threading'])
  assert not executor.workers_in_this_process(MULTI_PROCESSING)
  assert not executor.workers_in_this_process(['--runner=DataflowRunner'])


def test_tf_threads_are_set_before_tf_starts_and_kept_after():
  probe = ('from components.yamnet_embedding import embed\n'
           'embed.configure_tf_threads(3)\n'
           'import tensorflow as tf\n'
           'tf.constant(1.0) + 1.0\n'
           'print(tf.config.threading.get_intra_op_parallelism_threads(),\n'
           '      tf.config.threading.get_inter_op_parallelism_threads())\n'
           'embed.configure_tf_threads(5)\n')
  done = subprocess.run([sys.executable, '-c', probe], capture_output=True,
                        text=True, check=True, cwd=REPO_ROOT)
  assert done.stdout.split() == ['1', '3']
  assert 'TF already runs in this process' in done.stderr
  assert 'instead of intra-op 1, inter-op 5' in done.stderr
  # A user's choice through TF's environment variables is kept.
  chosen = subprocess.run(
      [sys.executable, '-c', probe.replace('embed.configure_tf_threads(5)\n',
                                           '')],
      capture_output=True, text=True, check=True, cwd=REPO_ROOT,
      env=dict(os.environ, TF_NUM_INTRAOP_THREADS='2'))
  assert chosen.stdout.split() == ['0', '0']  # Not set through tf.config.
