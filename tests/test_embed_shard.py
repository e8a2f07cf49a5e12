"""EmbedShardFn on one shard: patches written, failed clips quarantined."""

import numpy as np
import pytest
import tensorflow as tf
from apache_beam.utils import shared

from data import record_files
from components.yamnet_embedding import embed


def _clip(clip_id, audio):
  clip = tf.train.Example()
  feature = clip.features.feature
  feature['audio'].float_list.value.extend(audio)
  feature['clip_id'].bytes_list.value.append(clip_id.encode())
  feature['filename'].bytes_list.value.append(f'{clip_id}.wav'.encode())
  feature['category'].bytes_list.value.append(b'dog')
  feature['target'].int64_list.value.append(0)
  feature['fold'].int64_list.value.append(2)
  return clip.SerializeToString()


class _FakeYamnet:
  """Two patches per clip, [mean, max] of each; fails on a clip holding 7."""

  def __init__(self):
    self.used = False

  def first_use(self):
    first, self.used = not self.used, True
    return first

  def embed_clips(self, waveforms):
    waveforms = np.asarray(waveforms)
    if np.any(waveforms == 7.0):
      raise tf.errors.InvalidArgumentError(None, None, 'bad clip')
    embeddings = np.zeros((len(waveforms), 2, 1024), np.float32)
    embeddings[:, 0, 0] = waveforms.mean(axis=1)
    embeddings[:, 1, 0] = waveforms.max(axis=1)
    if np.any(waveforms == 9.0):
      embeddings[:, 0, 1] = np.nan
    return tf.constant(embeddings)


@pytest.fixture
def shard(tmp_path):
  clips = tmp_path / 'clips'
  with tf.io.TFRecordWriter(str(clips)) as writer:
    writer.write(_clip('ok-a', [0.1, 0.2, 0.3]))
    writer.write(_clip('fails', [0.1, 7.0, 0.3]))
    writer.write(_clip('ok-b', [0.5, 0.5, 0.5]))
    writer.write(_clip('nan', [9.0, 0.0, 0.0]))
    writer.write(_clip('ok-short', [0.4]))
  staging = tmp_path / 'staging'
  staging.mkdir()
  return embed.Shard(3, str(clips), str(tmp_path / 'patches')), str(staging)


def _run(shard, staging, batch_size=4, calls=1):
  fn = embed.EmbedShardFn('unused-handle', shared.Shared(),
                          batch_size=batch_size, staging_dir=staging,
                          calls=calls, tf_threads=None)
  fn._yamnet = _FakeYamnet()  # pylint: disable=protected-access
  return list(fn.process(shard))


def _records(path):
  return [r.numpy() for r in record_files.record_dataset([path])]


def _patches(path):
  return [tf.train.Example.FromString(r.numpy())
          for r in record_files.record_dataset([path])]


def test_failed_clips_are_quarantined_and_the_rest_written(shard):
  shard, staging = shard
  quarantined = _run(shard, staging)
  assert [(r['clip_id'], r['fold'], r['category']) for r in quarantined] == [
      ('fails', 2, 'dog'), ('nan', 2, 'dog')]
  assert 'YAMNet inference failed' in quarantined[0]['reason']
  assert 'bad clip' in quarantined[0]['reason']
  assert 'non-finite' in quarantined[1]['reason']
  patches = _patches(shard.patches_path)
  by_clip = {}
  for patch in patches:
    features = patch.features.feature
    by_clip.setdefault(features['clip_id'].bytes_list.value[0].decode(),
                       []).append(features['embedding'].float_list.value[0])
  # The clip that failed its batch (with ok-a, ok-b) is retried alone, so
  # its batch mates are still embedded; the short clip is embedded apart.
  assert sorted(by_clip) == ['ok-a', 'ok-b', 'ok-short']
  np.testing.assert_allclose(by_clip['ok-a'], [0.2, 0.3], rtol=1e-6)
  np.testing.assert_allclose(by_clip['ok-b'], [0.5, 0.5], rtol=1e-6)
  np.testing.assert_allclose(by_clip['ok-short'], [0.4, 0.4], rtol=1e-6)


def test_a_retried_shard_replaces_its_output_byte_for_byte(shard):
  shard, staging = shard
  _run(shard, staging)
  first = _records(shard.patches_path)
  _run(shard, staging)
  assert _records(shard.patches_path) == first
  assert len(first) == 6
  assert tf.io.gfile.listdir(staging) == []


def test_calls_in_flight_keep_the_shard_order(shard):
  shard, staging = shard
  one_call = _run(shard, staging, batch_size=1, calls=1)
  expected = _records(shard.patches_path)
  # Clips of a shard in one call each, three calls at once.
  assert _run(shard, staging, batch_size=1, calls=3) == one_call
  assert _records(shard.patches_path) == expected
  assert [tf.train.Example.FromString(r).features.feature['clip_id']
          .bytes_list.value[0] for r in expected] == [
              b'ok-a', b'ok-a', b'ok-b', b'ok-b', b'ok-short', b'ok-short']


def test_clip_batches_are_read_without_tf_data_autotuning(shard):
  # Deleting an autotuned iterator at the end of a shard sometimes blocked
  # for seconds with every core idle (docs/performance.md).
  shard, _ = shard
  batches = embed.read_clip_batches(shard.clips_path, batch_size=2)
  assert batches.options().autotune.enabled is False
  assert [len(b['clip_id']) for b in batches] == [2, 2, 1]
  assert record_files.record_dataset(
      [shard.clips_path]).options().autotune.enabled is False
