"""The embedding step gives the same result in every DirectRunner mode.

Workers in other processes load their own YAMNet and run TF with their own
thread count, so their embeddings must still equal the in-process ones.
"""

import os

import numpy as np
import pytest

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
  for name in (executor.CLIPS_EMBEDDED, executor.PATCHES,
               executor.CLIPS_QUARANTINED):
    assert (parallel.get_int_custom_property(name) ==
            in_memory.get_int_custom_property(name)), name
  assert parallel.get_int_custom_property(executor.CLIPS_EMBEDDED) == 10
  assert parallel.split_names == clips.split_names
  assert quarantine.read_quarantine(failures.uri) == []


def test_worker_processes_share_the_cores():
  cores = os.cpu_count()
  assert executor.worker_tf_threads(MULTI_PROCESSING) == max(1, cores // 2)
  assert executor.worker_tf_threads(
      ['--direct_running_mode=multi_processing',
       f'--direct_num_workers={2 * cores}']) == 1
  assert executor.worker_tf_threads(IN_MEMORY) is None
  assert executor.worker_tf_threads(
      ['--direct_running_mode=multi_threading',
       '--direct_num_workers=2']) is None
