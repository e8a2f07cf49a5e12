"""What Beam workers run for YamnetEmbeddingGen: a shard of clips in, a shard
of patch Examples out.

Kept apart from the executor, whose TFX imports would double a worker
process's start-up: workers import only the module of the code they run.

Each Beam element is one file (shard) of ExampleGen's clip Examples, and the
worker streams it through TF's C++ reader and writer, so no per-clip or
per-patch element passes through Beam. Where the speed comes from (figures in
docs/performance.md):
- Reading, CRC checks and parsing of clips run in tf.data, in C++ and ahead
  of inference (prefetch); patches are written by TF's TFRecordWriter. Clips
  and patches are uncompressed TFRecords (`record_files`), read without
  tf.data's autotuning, whose iterators sometimes took over a second to
  delete at the end of a shard.
- Equal-length clips are embedded by one graph call per batch instead of one
  eager call per clip; YAMNet itself takes one waveform per call.
- Patch Examples are serialized straight from the float32 bytes, with the
  features a clip's patches share serialized once per clip.
- Each worker keeps one graph call in flight per core, each op on one TF
  thread (`configure_tf_threads`): YAMNet's ops are too small to gain from
  being split over threads, and calls in flight also overlap the reading
  and writing around them.
- The model is loaded once per process (Beam's `shared`).
"""

import collections
from concurrent import futures
import dataclasses
import logging
import os
import threading
import time
import uuid
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Tuple)

import apache_beam as beam
from apache_beam.utils import shared
import numpy as np
import tensorflow as tf

from components import examples_io
from components import quarantine
from data import clip_examples
from data import record_files
from yamnet import loader
from yamnet import patch_examples

METRICS_NAMESPACE = 'yamnet_embedding'
YAMNET_LOADS_COUNTER = 'yamnet_loads'
# TF's own settings of its thread pools, read when it starts.
_TF_THREADS_ENV = ('TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS')
# What the step reads of a clip Example: who it is, and its audio.
_CLIP_SPEC = clip_examples.parse_spec(clip_examples.IDENTITY +
                                      (clip_examples.AUDIO,))

@dataclasses.dataclass(frozen=True)
class Shard:
  """One file of clip Examples and the file its patch Examples go to."""
  split_index: int
  clips_path: str
  patches_path: str


def clip_embedder(model: Any) -> Callable[[np.ndarray], tf.Tensor]:
  """A graph embedding equal-length clips, [clips, samples], in one call.

  It returns [clips, patches, 1024], as per-clip calls of YAMNet (which takes
  one waveform per call) give, without their per-call Python overhead.
  """

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
  def embed(waveforms: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(
        lambda waveform: model(waveform)[1], waveforms,
        fn_output_signature=tf.TensorSpec(
            [None, patch_examples.EMBEDDING_SIZE], tf.float32))

  return embed


class Yamnet:
  """A loaded YAMNet and its batch embedder: what a process shares."""

  def __init__(self, handle: str):
    self.model = loader.load_yamnet(handle)
    self.embed_clips = clip_embedder(self.model)
    self._counted = False
    self._lock = threading.Lock()

  def first_use(self) -> bool:
    """True exactly once per load, whichever thread asks first: the
    `yamnet_loads` counter counts loads that embedded something (Beam
    drops counters updated in DoFn.setup)."""
    with self._lock:
      first, self._counted = not self._counted, True
    return first


def read_clip_batches(path: str, batch_size: int) -> tf.data.Dataset:
  """Parsed batches of a file of clip Examples, read ahead of their use."""
  return (record_files.record_dataset([path])
          .batch(batch_size)
          .map(lambda records: tf.io.parse_example(records, _CLIP_SPEC))
          .prefetch(1))


def open_patch_writer(path: str) -> tf.io.TFRecordWriter:
  """An uncompressed TFRecord writer (see `record_files`)."""
  return tf.io.TFRecordWriter(path)


def split_patches_counter(split_index: int) -> str:
  """Name of the counter of patches embedded for one split."""
  return f'patches_split_{split_index}'


def configure_tf_threads(process_cores: int) -> None:
  """Runs each TF op on one thread, up to `process_cores` ops at once.

  YAMNet's ops are small: two graph calls at once, each op on one thread,
  embedded about 20% faster than one call whose ops were split over two
  threads (docs/performance.md). TF fixes its pools at its first op; when
  that has happened in this process (an earlier component in the same
  process), YAMNet runs on those pools. Threads a user chose through TF's
  own environment variables are kept.
  """
  chosen = [name for name in _TF_THREADS_ENV if os.environ.get(name)]
  if chosen:
    logging.info('YamnetEmbeddingGen: TF threads as %s set them',
                 ', '.join(chosen))
    return
  threading = tf.config.threading
  try:
    threading.set_intra_op_parallelism_threads(1)
    threading.set_inter_op_parallelism_threads(process_cores)
  except RuntimeError:
    logging.warning(
        'YamnetEmbeddingGen: TF already runs in this process; YAMNet uses its '
        'thread pools (intra-op %d, inter-op %d; 0 = one per core) instead of '
        'intra-op 1, inter-op %d', threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(), process_cores)


def _in_order(pool: futures.Executor, fn: Callable[[Any], Any],
              items: Iterable[Any], ahead: int) -> Iterator[Any]:
  """fn(item) for each item in order, computed by `pool` up to `ahead` early."""
  pending = collections.deque()
  for item in items:
    pending.append(pool.submit(fn, item))
    if len(pending) > ahead:
      yield pending.popleft().result()
  while pending:
    yield pending.popleft().result()


class EmbedShardFn(beam.DoFn):
  """Embeds every clip of a shard into its patch file; yields quarantined clips.

  The patch file is written under a staging name and renamed into place when
  complete, so a retried shard replaces its output instead of adding to it.
  `calls` graph calls are kept in flight; `tf_threads`, if given, is passed
  to `configure_tf_threads` in each worker before it loads YAMNet.
  """

  def __init__(self, yamnet_handle: str, shared_yamnet: shared.Shared,
               batch_size: int, staging_dir: str, calls: int,
               tf_threads: Optional[int]):
    super().__init__()
    self._handle = yamnet_handle
    self._shared_yamnet = shared_yamnet
    self._batch_size = batch_size
    self._staging_dir = staging_dir
    self._calls = calls
    self._tf_threads = tf_threads
    self._yamnet = None
    self._clips = beam.metrics.Metrics.counter(METRICS_NAMESPACE, 'clips')
    self._failures = beam.metrics.Metrics.counter(METRICS_NAMESPACE,
                                                  'failures')

  def setup(self):
    # Thread pools are fixed by TF's first op, so this precedes the load.
    if self._tf_threads:
      configure_tf_threads(self._tf_threads)
    # Once per worker process: Shared hands the same Yamnet to every DoFn
    # instance (thread, bundle) of the process.
    self._yamnet = self._shared_yamnet.acquire(lambda: Yamnet(self._handle))

  def _embed(self, waveforms: List[np.ndarray]
            ) -> Iterator[Tuple[Optional[np.ndarray], Optional[Exception]]]:
    """(embeddings, None) or (None, error) for each of equal-length clips."""
    try:
      batch = self._yamnet.embed_clips(np.stack(waveforms)).numpy()
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

  def _embed_batch(self, batch: Dict[str, tf.Tensor]
                  ) -> Iterator[Tuple[clip_examples.Clip,
                                      Optional[np.ndarray],
                                      Optional[Exception]]]:
    """(clip, embeddings, error) of each clip, equal lengths in one call."""
    clips = clip_examples.clips_of(batch)
    samples = batch[clip_examples.AUDIO].values.numpy()
    bounds = batch[clip_examples.AUDIO].row_splits.numpy()
    by_length = collections.defaultdict(list)
    for i in range(len(clips)):
      by_length[bounds[i + 1] - bounds[i]].append(i)
    for indices in by_length.values():
      waveforms = [samples[bounds[i]:bounds[i + 1]] for i in indices]
      for i, (embeddings, error) in zip(indices, self._embed(waveforms)):
        yield clips[i], embeddings, error

  def process(self, shard: Shard):
    start = time.time()
    if self._yamnet.first_use():
      beam.metrics.Metrics.counter(METRICS_NAMESPACE,
                                   YAMNET_LOADS_COUNTER).inc()
    clips = patches = 0
    staging = os.path.join(self._staging_dir, uuid.uuid4().hex)
    with open_patch_writer(staging) as writer, futures.ThreadPoolExecutor(
        self._calls, thread_name_prefix='yamnet') as pool:
      for embedded in _in_order(
          pool, lambda batch: list(self._embed_batch(batch)),
          read_clip_batches(shard.clips_path, self._batch_size), self._calls):
        for clip, embeddings, error in embedded:
          if error is not None:
            self._failures.inc()
            yield quarantine.record(
                clip.clip_id, clip.filename, clip.fold, clip.category,
                examples_io.span_of_file(shard.clips_path),
                f'YAMNet inference failed: {error}')
            continue
          for record in patch_examples.serialize_patches(clip, embeddings):
            writer.write(record)
          clips += 1
          patches += len(embeddings)
    tf.io.gfile.rename(staging, shard.patches_path, overwrite=True)
    self._clips.inc(clips)
    beam.metrics.Metrics.counter(
        METRICS_NAMESPACE, split_patches_counter(shard.split_index)).inc(
            patches)
    seconds = time.time() - start
    logging.info('YamnetEmbeddingGen: %s: %d clips -> %d patches in %.1f s '
                 '(%.0f patches/s)', shard.clips_path, clips, patches, seconds,
                 patches / max(seconds, 1e-9))

