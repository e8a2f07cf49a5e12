"""Executor of YamnetEmbeddingGen: batched YAMNet inference in Beam."""

import logging
import os
from typing import Any, Dict, List

import apache_beam as beam
from apache_beam.metrics import metric
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import quarantine
from components.yamnet import loader

YAMNET_HANDLE_KEY = 'yamnet_handle'
YAMNET_FINGERPRINT_KEY = 'yamnet_fingerprint'
BATCH_SIZE_KEY = 'batch_size'
EMBEDDINGS_KEY = 'embeddings'
QUARANTINE_KEY = 'quarantine'

# Custom properties recorded on the embeddings artifact.
CLIPS_EMBEDDED = 'clips_embedded'
PATCHES = 'patches'
CLIPS_QUARANTINED = 'clips_quarantined'

METRICS_NAMESPACE = 'yamnet_embedding'
EMBEDDING_SIZE = 1024


def _feature(values, kind: str) -> tf.train.Feature:
  if kind == 'bytes':
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
  if kind == 'int':
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def patch_example(clip: tf.train.Example, embedding: np.ndarray,
                  patch_index: int, num_patches: int) -> tf.train.Example:
  """One patch: its embedding plus the clip's identity and label."""
  features = clip.features.feature
  return tf.train.Example(features=tf.train.Features(feature={
      'embedding': _feature(embedding.astype(np.float32), 'float'),
      'label': _feature(features['category'].bytes_list.value, 'bytes'),
      'target': _feature(features['target'].int64_list.value, 'int'),
      'fold': _feature(features['fold'].int64_list.value, 'int'),
      'clip_id': _feature(features['clip_id'].bytes_list.value, 'bytes'),
      'patch_index': _feature([patch_index], 'int'),
      'num_patches': _feature([num_patches], 'int'),
  }))


class EmbedClipsFn(beam.DoFn):
  """Loads YAMNet once per worker and embeds batches of clips."""

  QUARANTINE_TAG = 'quarantine'

  def __init__(self, yamnet_handle: str):
    super().__init__()
    self._handle = yamnet_handle
    self._model = None
    self._clips = beam.metrics.Metrics.counter(METRICS_NAMESPACE, 'clips')
    self._patches = beam.metrics.Metrics.counter(METRICS_NAMESPACE, 'patches')
    self._failures = beam.metrics.Metrics.counter(METRICS_NAMESPACE,
                                                  'failures')

  def setup(self):
    self._model = loader.load_yamnet(self._handle)

  def _embed(self, clip: tf.train.Example) -> np.ndarray:
    waveform = np.asarray(clip.features.feature['audio'].float_list.value,
                          dtype=np.float32)
    _, embeddings, _ = self._model(tf.constant(waveform))
    embeddings = embeddings.numpy()
    if not np.all(np.isfinite(embeddings)):
      raise ValueError('YAMNet returned non-finite embeddings')
    return embeddings

  def process(self, serialized_clips: List[bytes]):
    for serialized in serialized_clips:
      clip = tf.train.Example.FromString(serialized)
      try:
        embeddings = self._embed(clip)
      except (tf.errors.OpError, ValueError) as error:
        self._failures.inc()
        features = clip.features.feature
        yield beam.pvalue.TaggedOutput(self.QUARANTINE_TAG, quarantine.record(
            features['clip_id'].bytes_list.value[0].decode(),
            features['filename'].bytes_list.value[0].decode(),
            features['fold'].int64_list.value[0],
            features['category'].bytes_list.value[0].decode(),
            f'YAMNet inference failed: {error}'))
        continue
      self._clips.inc()
      self._patches.inc(len(embeddings))
      for index, embedding in enumerate(embeddings):
        yield patch_example(clip, embedding, index,
                            len(embeddings)).SerializeToString()


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
  query = result.metrics().query(
      metric.MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(name))
  return int(sum(c.committed or 0 for c in query['counters']))


class Executor(base_beam_executor.BaseBeamExecutor):
  """Reads each split of clip Examples and writes per-patch embeddings."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    clips = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.EXAMPLES_KEY])
    embeddings = artifact_utils.get_single_instance(
        output_dict[EMBEDDINGS_KEY])
    quarantine_uri = artifact_utils.get_single_uri(output_dict[QUARANTINE_KEY])
    split_names = artifact_utils.decode_split_names(clips.split_names)
    embeddings.split_names = artifact_utils.encode_split_names(split_names)
    handle = exec_properties[YAMNET_HANDLE_KEY]
    batch_size = int(exec_properties[BATCH_SIZE_KEY])
    # Fail fast, before Beam starts, if the handle is not a usable YAMNet.
    loader.load_yamnet(handle)

    pipeline = self._make_beam_pipeline()
    failures = []
    for split in split_names:
      pattern = os.path.join(artifact_utils.get_split_uri([clips], split), '*')
      embedded = (
          pipeline
          | f'ReadClips[{split}]' >> beam.io.ReadFromTFRecord(
              pattern, coder=beam.coders.BytesCoder())
          | f'Batch[{split}]' >> beam.BatchElements(
              min_batch_size=1, max_batch_size=batch_size)
          | f'Embed[{split}]' >> beam.ParDo(
              EmbedClipsFn(handle)).with_outputs(
                  EmbedClipsFn.QUARANTINE_TAG, main='patches'))
      failures.append(embedded[EmbedClipsFn.QUARANTINE_TAG])
      _ = (embedded.patches
           | f'Write[{split}]' >> beam.io.WriteToTFRecord(
               os.path.join(
                   artifact_utils.get_split_uri([embeddings], split),
                   write_split.DEFAULT_FILE_NAME),
               file_name_suffix='.gz'))
    _ = (failures
         | 'MergeFailures' >> beam.Flatten()
         | 'WriteQuarantine' >> quarantine.WriteQuarantine(quarantine_uri))
    result = pipeline.run()
    result.wait_until_finish()

    examples_utils.set_payload_format(embeddings,
                                      example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(
        embeddings,
        write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
    clips_embedded = _counter(result, 'clips')
    patches = _counter(result, 'patches')
    quarantined = len(quarantine.read_quarantine(quarantine_uri))
    embeddings.set_string_custom_property(YAMNET_HANDLE_KEY, handle)
    embeddings.set_string_custom_property(
        YAMNET_FINGERPRINT_KEY, exec_properties[YAMNET_FINGERPRINT_KEY])
    embeddings.set_int_custom_property(CLIPS_EMBEDDED, clips_embedded)
    embeddings.set_int_custom_property(PATCHES, patches)
    embeddings.set_int_custom_property(CLIPS_QUARANTINED, quarantined)
    logging.info('YamnetEmbeddingGen: %d clips -> %d patches, %d quarantined '
                 '(YAMNet %s)', clips_embedded, patches, quarantined, handle)
