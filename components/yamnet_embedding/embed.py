"""What Beam workers run for YamnetEmbeddingGen: clips in, patch Examples out.

Kept apart from the executor, whose TFX imports would double a worker
process's start-up: workers import only the module of the code they run.

Where the speed comes from (figures in docs/performance.md):
- Equal-length clips are embedded by one graph call per batch instead of one
  eager call per clip; YAMNet itself takes one waveform per call.
- Audio is parsed by TF in C++, not element by element in Python, and patch
  Examples are serialized straight from the float32 bytes, with the features
  a clip's patches share serialized once per clip.
- Worker processes can be given their share of the cores as TF threads, so
  they do not oversubscribe the machine.
"""

import collections
import logging
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import apache_beam as beam
import numpy as np
import tensorflow as tf

from components import quarantine
from components.yamnet import loader

METRICS_NAMESPACE = 'yamnet_embedding'

_AUDIO_FEATURES = {'audio': tf.io.RaggedFeature(tf.float32)}


def clip_embedder(model: Any) -> Callable[[np.ndarray], tf.Tensor]:
  """A graph embedding equal-length clips, [clips, samples], in one call.

  It returns [clips, patches, 1024], as per-clip calls of YAMNet (which takes
  one waveform per call) give, without their per-call Python overhead.
  """

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
  def embed(waveforms: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(
        lambda waveform: model(waveform)[1], waveforms,
        fn_output_signature=tf.TensorSpec([None, loader.EMBEDDING_SIZE],
                                          tf.float32))

  return embed


def _varint(value: int) -> bytes:
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
  """A length-delimited protobuf field: tag, length, payload."""
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _feature_entry(name: bytes, feature: bytes) -> bytes:
  """One entry of Features.feature (a map<string, Feature>, field 1)."""
  return _field(1, _field(1, name) + _field(2, feature))


_EMBEDDING_KEY = b'embedding'
_PATCH_INDEX_KEY = b'patch_index'


def patch_examples(clip: tf.train.Example,
                   embeddings: np.ndarray) -> Iterator[bytes]:
  """Serialized Examples of a clip's patches: embedding, identity and label.

  The features every patch of the clip shares are serialized once; each
  patch adds its embedding (a packed FloatList, straight from the float32
  bytes) and index. Protobuf merges concatenated map entries, so the result
  parses as one Example; building each through the protobuf API instead
  cost more CPU per patch than everything else here but YAMNet.
  """
  features = clip.features.feature
  shared = tf.train.Features(feature={
      'label': features['category'],
      'target': features['target'],
      'fold': features['fold'],
      'clip_id': features['clip_id'],
      'num_patches': tf.train.Feature(int64_list=tf.train.Int64List(
          value=[len(embeddings)])),
  }).SerializeToString()
  little_endian = np.asarray(embeddings, dtype='<f4')
  for index, embedding in enumerate(little_endian):
    # Feature.float_list (2) > FloatList.value (1), packed.
    embedding_feature = _field(2, _field(1, embedding.tobytes()))
    # Feature.int64_list (3) > Int64List.value (1), packed varint.
    index_feature = _field(3, _field(1, _varint(index)))
    yield _field(1, shared + _feature_entry(_EMBEDDING_KEY, embedding_feature)
                 + _feature_entry(_PATCH_INDEX_KEY, index_feature))


def key_by_split(path_and_clip: Tuple[str, bytes],
                 split_of_file: Dict[str, int]) -> Tuple[int, bytes]:
  """(split index, clip) of a (file, clip) pair."""
  path, clip = path_and_clip
  return split_of_file[path], clip


def split_of_patch(patch: Tuple[int, bytes], unused_num_splits: int) -> int:
  return patch[0]


def split_patches_counter(split_index: int) -> str:
  """Name of the counter of patches embedded for one split."""
  return f'patches_split_{split_index}'


def _limit_tf_threads(threads: int) -> None:
  try:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
  except RuntimeError:
    logging.warning('YamnetEmbeddingGen: TF already runs in this worker; '
                    'keeping its thread pools instead of %d threads', threads)


class EmbedClipsFn(beam.DoFn):
  """Embeds batches of (split, clip) pairs into (split, patch) pairs."""

  QUARANTINE_TAG = 'quarantine'

  def __init__(self, yamnet_handle: str, tf_threads: Optional[int]):
    super().__init__()
    self._handle = yamnet_handle
    self._tf_threads = tf_threads
    self._embed_clips = None
    self._clips = beam.metrics.Metrics.counter(METRICS_NAMESPACE, 'clips')
    self._failures = beam.metrics.Metrics.counter(METRICS_NAMESPACE,
                                                  'failures')
    self._split_patches = {}

  def setup(self):
    # Thread pools are fixed by TF's first op, so this precedes the load.
    if self._tf_threads:
      _limit_tf_threads(self._tf_threads)
    self._embed_clips = clip_embedder(loader.load_yamnet(self._handle))

  def _embed(self, waveforms: List[np.ndarray]
            ) -> Iterator[Tuple[Optional[np.ndarray], Optional[Exception]]]:
    """(embeddings, None) or (None, error) for each of equal-length clips."""
    try:
      batch = self._embed_clips(np.stack(waveforms)).numpy()
    except tf.errors.OpError as error:
      if len(waveforms) == 1:
        yield None, error
        return
      # One bad clip fails the whole call; one by one, only it fails.
      for waveform in waveforms:
        yield from self._embed([waveform])
      return
    for embeddings in batch:
      if np.all(np.isfinite(embeddings)):
        yield embeddings, None
      else:
        yield None, ValueError('YAMNet returned non-finite embeddings')

  def _split_counter(self, split_index: int):
    if split_index not in self._split_patches:
      self._split_patches[split_index] = beam.metrics.Metrics.counter(
          METRICS_NAMESPACE, split_patches_counter(split_index))
    return self._split_patches[split_index]

  def process(self, batch: Sequence[Tuple[int, bytes]]):
    splits, clips = zip(*batch)
    audio = tf.io.parse_example(list(clips), _AUDIO_FEATURES)['audio']
    samples = audio.values.numpy()
    bounds = audio.row_splits.numpy()
    by_length = collections.defaultdict(list)
    for i in range(len(clips)):
      by_length[bounds[i + 1] - bounds[i]].append(i)
    for indices in by_length.values():
      waveforms = [samples[bounds[i]:bounds[i + 1]] for i in indices]
      for i, (embeddings, error) in zip(indices, self._embed(waveforms)):
        clip = tf.train.Example.FromString(clips[i])
        if error is not None:
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
        self._split_counter(splits[i]).inc(len(embeddings))
        for patch in patch_examples(clip, embeddings):
          yield splits[i], patch
