"""The patch Example: one 0.96 s YAMNet patch of a clip, as the embedding
step writes it, and as Transform passes it on.

Every producer and reader of patch Examples (the embedding step, Transform's
and Trainer's module files, the served model's patch evaluation,
cross-validation) takes feature names, dtypes and shapes from here;
tests/test_example_layouts.py checks them against the curated schema,
pipeline/schema/embeddings.pbtxt.
"""

from typing import List

import numpy as np
import tensorflow as tf

from data import clip_examples
from yamnet import spec

EMBEDDING = 'embedding'
# The clip's class name; Transform turns it into the class index.
LABEL = 'label'
TARGET = 'target'
FOLD = 'fold'
CLIP_ID = 'clip_id'
PATCH_INDEX = 'patch_index'
NUM_PATCHES = 'num_patches'
EMBEDDING_SIZE = spec.EMBEDDING_SIZE

FEATURE_SPEC = {
    EMBEDDING: tf.io.FixedLenFeature([EMBEDDING_SIZE], tf.float32),
    LABEL: tf.io.FixedLenFeature([], tf.string),
    TARGET: tf.io.FixedLenFeature([], tf.int64),
    FOLD: tf.io.FixedLenFeature([], tf.int64),
    CLIP_ID: tf.io.FixedLenFeature([], tf.string),
    PATCH_INDEX: tf.io.FixedLenFeature([], tf.int64),
    NUM_PATCHES: tf.io.FixedLenFeature([], tf.int64),
}
# What Transform outputs (models/preprocessing.py): the label as the index of
# its class in the vocabulary of the training folds.
TRANSFORMED_FEATURE_SPEC = {
    EMBEDDING: FEATURE_SPEC[EMBEDDING],
    LABEL: tf.io.FixedLenFeature([], tf.int64),
    CLIP_ID: FEATURE_SPEC[CLIP_ID],
    FOLD: FEATURE_SPEC[FOLD],
}


def _varint(value: int) -> bytes:
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _header(number: int, length: int) -> bytes:
  """Tag and length of a length-delimited protobuf field."""
  return _varint(number << 3 | 2) + _varint(length)


def _field(number: int, payload: bytes) -> bytes:
  """A length-delimited protobuf field: tag, length, payload."""
  return _header(number, len(payload)) + payload


def _feature_entry(name: bytes, feature: bytes) -> bytes:
  """One entry of Features.feature (a map<string, Feature>, field 1)."""
  return _field(1, _field(1, name) + _field(2, feature))


def _embedding_entry_head(size: int) -> bytes:
  """An embedding's feature entry up to its float bytes.

  Entry > (key 'embedding', Feature.float_list (2) > FloatList.value (1),
  packed): every length in it follows from the embedding size alone.
  """
  floats = 4 * size
  float_list = len(_header(1, floats)) + floats
  feature = len(_header(2, float_list)) + float_list
  key = _field(1, EMBEDDING.encode())
  entry = len(key) + len(_header(2, feature)) + feature
  return (_header(1, entry) + key + _header(2, feature) +
          _header(2, float_list) + _header(1, floats))


def serialize_patches(clip: clip_examples.Clip,
                      embeddings: np.ndarray) -> List[bytes]:
  """Serialized Examples of a clip's patches: embedding, identity and label.

  The features every patch of the clip shares are serialized once; each
  patch adds its embedding (a packed FloatList, straight from the float32
  bytes) and index. Protobuf merges concatenated map entries, so the result
  parses as one Example; building each through the protobuf API instead
  cost more CPU per patch than everything else here but YAMNet.
  """
  num_patches, size = embeddings.shape
  shared_features = tf.train.Features(feature={
      LABEL: _bytes(clip.category.encode()),
      TARGET: _int(clip.target),
      FOLD: _int(clip.fold),
      CLIP_ID: _bytes(clip.clip_id.encode()),
      NUM_PATCHES: _int(num_patches),
  }).SerializeToString(deterministic=True)
  head = shared_features + _embedding_entry_head(size)
  floats = memoryview(np.ascontiguousarray(embeddings, dtype='<f4').tobytes())
  row = 4 * size
  records = []
  for index in range(num_patches):
    # Feature.int64_list (3) > Int64List.value (1), packed varint.
    index_entry = _feature_entry(PATCH_INDEX.encode(),
                                 _field(3, _field(1, _varint(index))))
    body = len(head) + row + len(index_entry)
    records.append(b''.join((_header(1, body), head,
                             floats[index * row:(index + 1) * row],
                             index_entry)))
  return records


def _bytes(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
