"""Patch Examples serialized by hand parse as the Examples the API builds."""

import numpy as np
import tensorflow as tf

from data import clip_examples
from yamnet import patch_examples


def _clip():
  return clip_examples.Clip(clip_id='3-100032-A-0', filename='3-100032-A-0.wav',
                    category='dog', target=0, fold=3)


def _expected(embedding, index, count):
  patch = tf.train.Example()
  out = patch.features.feature
  out['embedding'].float_list.value.extend(embedding.tolist())
  out['label'].bytes_list.value.append(b'dog')
  out['target'].int64_list.value.append(0)
  out['fold'].int64_list.value.append(3)
  out['clip_id'].bytes_list.value.append(b'3-100032-A-0')
  out['patch_index'].int64_list.value.append(index)
  out['num_patches'].int64_list.value.append(count)
  return patch


def test_each_patch_equals_the_api_built_example():
  rng = np.random.default_rng(0)
  # 200 patches: indices beyond one varint byte; extreme float values.
  embeddings = rng.normal(0, 3, (200, 1024)).astype(np.float32)
  embeddings[0, :4] = [0.0, -0.0, 3.4e38, -1.2e-38]
  patches = list(patch_examples.serialize_patches(_clip(), embeddings))
  assert len(patches) == 200
  for index, serialized in enumerate(patches):
    assert tf.train.Example.FromString(serialized) == _expected(
        embeddings[index], index, 200)


def test_tensorflow_parses_the_patches():
  embeddings = np.arange(3 * 1024, dtype=np.float32).reshape(3, 1024) / 7
  records = patch_examples.serialize_patches(_clip(), embeddings)
  parsed = tf.io.parse_example(records, {
      'embedding': tf.io.FixedLenFeature([1024], tf.float32),
      'patch_index': tf.io.FixedLenFeature([], tf.int64),
      'num_patches': tf.io.FixedLenFeature([], tf.int64),
      'label': tf.io.FixedLenFeature([], tf.string),
  })
  np.testing.assert_array_equal(parsed['embedding'].numpy(), embeddings)
  np.testing.assert_array_equal(parsed['patch_index'].numpy(), [0, 1, 2])
  np.testing.assert_array_equal(parsed['num_patches'].numpy(), [3, 3, 3])
  assert parsed['label'].numpy().tolist() == [b'dog'] * 3
