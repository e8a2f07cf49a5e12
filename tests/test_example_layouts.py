"""The clip and patch Example layouts agree with the curated schemas, and the
components write what the layouts declare."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from data import clip_examples
from data import esc50_csv
from pipeline import pipeline as pipeline_def
from yamnet import patch_examples
from yamnet import spec

_SCHEMA_TYPES = {tf.string: schema_pb2.BYTES, tf.int64: schema_pb2.INT,
                 tf.float32: schema_pb2.FLOAT}


def _schema(name):
  return tfdv.load_schema_text(os.path.join(pipeline_def.SCHEMA_DIR, name))


def _shape(feature):
  return [dim.size for dim in feature.shape.dim]


def _check_against(schema, layout):
  for feature in schema.feature:
    assert feature.name in layout, feature.name
    parsed = layout[feature.name]
    assert _SCHEMA_TYPES[parsed.dtype] == feature.type, feature.name
    expected = list(parsed.shape) or [1]
    assert _shape(feature) == expected, feature.name


def test_clip_layout_matches_the_clip_schema():
  schema = _schema(pipeline_def.CLIP_SCHEMA)
  _check_against(schema, clip_examples.FEATURE_SPEC)
  # Data validation checks exactly the features the schema curates.
  assert {f.name for f in schema.feature} == set(
      clip_examples.VALIDATED_FEATURES)


def test_patch_layout_matches_the_embedding_schema():
  schema = _schema(pipeline_def.EMBEDDING_SCHEMA)
  _check_against(schema, patch_examples.FEATURE_SPEC)
  assert {f.name for f in schema.feature} == set(patch_examples.FEATURE_SPEC)
  embedding = [f for f in schema.feature
               if f.name == patch_examples.EMBEDDING][0]
  assert _shape(embedding) == [spec.EMBEDDING_SIZE]


def test_a_clip_example_parses_with_the_layout():
  row = esc50_csv.ClipRow(filename='1-100-A-0.wav', fold=1, target=0,
                          category='dog', esc10=True, src_file='100',
                          take='A', path='audio/1-100-A-0.wav')
  waveform = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
  example = clip_examples.clip_example(row, waveform, 44100, 2)
  parsed = tf.io.parse_single_example(example.SerializeToString(),
                                      clip_examples.FEATURE_SPEC)
  # Every feature of the layout is written, none beyond it.
  assert set(example.features.feature) == set(clip_examples.FEATURE_SPEC)
  np.testing.assert_array_equal(parsed[clip_examples.AUDIO].numpy(), waveform)
  assert parsed[clip_examples.CATEGORY].numpy() == b'dog'
  assert parsed[clip_examples.SOURCE_SAMPLE_RATE].numpy() == 44100
  assert parsed[clip_examples.DURATION_S].numpy() == pytest.approx(
      1000 / spec.SAMPLE_RATE)
  (clip,) = clip_examples.clips_of(tf.io.parse_example(
      [example.SerializeToString()],
      clip_examples.parse_spec(clip_examples.IDENTITY)))
  assert clip == clip_examples.Clip('1-100-A-0', '1-100-A-0.wav', 'dog', 0, 1)


def test_patch_examples_parse_with_the_layout():
  clip = clip_examples.Clip('1-100-A-0', '1-100-A-0.wav', 'dog', 0, 1)
  embeddings = np.ones((3, spec.EMBEDDING_SIZE), np.float32)
  records = patch_examples.serialize_patches(clip, embeddings)
  # Every feature of the layout is written, none beyond it.
  assert set(tf.train.Example.FromString(records[0]).features.feature) == set(
      patch_examples.FEATURE_SPEC)
  parsed = tf.io.parse_example(records, patch_examples.FEATURE_SPEC)
  assert parsed[patch_examples.PATCH_INDEX].numpy().tolist() == [0, 1, 2]
  assert parsed[patch_examples.LABEL].numpy().tolist() == [b'dog'] * 3
