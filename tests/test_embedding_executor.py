"""YamnetEmbeddingGen's executor on clip Examples from the ExampleGen executor."""

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils

from components import artifact_properties as properties
from components import quarantine
from components import splits
from yamnet import loader
from data import synthetic
from tfx_artifacts import read_split
from tfx_artifacts import run_embedding
from tfx_artifacts import run_example_gen


@pytest.fixture(scope='module')
def embedded(tmp_path_factory, standin_yamnet):
  out = tmp_path_factory.mktemp('embedding')
  root = str(out / 'esc50')
  synthetic.write_synthetic_esc50(root, classes=['dog', 'cat'],
                                  clips_per_class_per_fold=1, seed=5)
  clips, _ = run_example_gen(out, root, ['dog', 'cat'])
  embeddings, failures = run_embedding(out, clips, standin_yamnet)
  return clips, embeddings, failures


def test_splits_counts_and_shapes(embedded):
  clips, embeddings, failures = embedded
  assert artifact_utils.decode_split_names(embeddings.split_names) == list(
      splits.ALL_FOLD_SPLITS)
  total_clips = 0
  for split in splits.ALL_FOLD_SPLITS:
    patches = read_split(embeddings, split)
    clip_ids = {p.features.feature['clip_id'].bytes_list.value[0]
                for p in patches}
    assert len(clip_ids) == len(read_split(clips, split)) == 2
    total_clips += len(clip_ids)
    # 5 s clips: 10 patches each, indices 0..9.
    assert len(patches) == 20
    for patch in patches:
      features = patch.features.feature
      assert len(features['embedding'].float_list.value) == 1024
      assert features['num_patches'].int64_list.value[0] == 10
      assert 0 <= features['patch_index'].int64_list.value[0] < 10
      assert features['fold'].int64_list.value[0] == splits.fold_of_split(
          split)
      assert features['label'].bytes_list.value[0] in (b'dog', b'cat')
  assert total_clips == embeddings.get_int_custom_property('clips_embedded')
  assert embeddings.get_int_custom_property('patches') == 100
  assert embeddings.get_int_custom_property('clips_quarantined') == 0
  assert quarantine.read_quarantine(failures.uri) == []
  # One process (the DirectRunner's threads share it): YAMNet loads once.
  assert embeddings.get_int_custom_property(
      properties.YAMNET_LOADS) == 1


def test_embeddings_match_calling_yamnet_directly(embedded, standin_yamnet):
  clips, embeddings, _ = embedded
  model = loader.load_yamnet(standin_yamnet)
  patches = {}
  for patch in read_split(embeddings, 'fold3'):
    features = patch.features.feature
    patches[(features['clip_id'].bytes_list.value[0].decode(),
             features['patch_index'].int64_list.value[0])] = np.array(
                 features['embedding'].float_list.value)
  for clip in read_split(clips, 'fold3'):
    features = clip.features.feature
    waveform = np.array(features['audio'].float_list.value, np.float32)
    _, expected, _ = model(tf.constant(waveform))
    clip_id = features['clip_id'].bytes_list.value[0].decode()
    got = np.stack([patches[(clip_id, i)] for i in range(len(expected))])
    assert np.max(np.abs(got - expected.numpy())) < 1e-4


def test_yamnet_identity_is_recorded(embedded, standin_yamnet):
  _, embeddings, _ = embedded
  assert embeddings.get_string_custom_property(
      'yamnet_handle') == standin_yamnet
  assert embeddings.get_string_custom_property(
      'yamnet_fingerprint') == loader.yamnet_fingerprint(standin_yamnet)


def test_bad_handle_fails_before_any_work(tmp_path, embedded):
  clips, _, _ = embedded
  with pytest.raises(loader.YamnetHandleError, match='not-a-model'):
    run_embedding(tmp_path, clips, str(tmp_path / 'not-a-model'))


def test_a_patch_lost_by_the_write_fails_the_run(tmp_path, embedded,
                                                 standin_yamnet, monkeypatch):
  """As a writer that drops a record: an error, not fewer patches."""
  from components import examples_io  # pylint: disable=g-import-not-at-top
  from components.yamnet_embedding import embed  # pylint: disable=g-import-not-at-top
  clips, _, _ = embedded
  open_writer = embed.open_patch_writer

  class LosingWriter:
    """Drops patch 4 of every clip of fold 3."""

    def __init__(self, path):
      self._writer = open_writer(path)

    def write(self, record):
      features = tf.train.Example.FromString(record).features.feature
      if (features['fold'].int64_list.value[0] != 3 or
          features['patch_index'].int64_list.value[0] != 4):
        self._writer.write(record)

    def __enter__(self):
      return self

    def __exit__(self, *unused_exc):
      self._writer.close()

  monkeypatch.setattr(embed, 'open_patch_writer', LosingWriter)
  with pytest.raises(examples_io.LostRecordsError,
                     match=r'fold3: 18 written of 20'):
    run_embedding(tmp_path, clips, standin_yamnet)
