"""Executor of YamnetEmbeddingGen: batched YAMNet inference in Beam.

Beam distributes the files (shards) of the clip Examples over its workers;
each worker streams a shard through YAMNet into a patch file of the same
name, so nothing is held between stages and memory does not grow with the
dataset. What the workers run is in `embed`.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.metrics import metric
from apache_beam.utils import shared
from tfx import types
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import artifact_properties as properties
from components import beam_options
from components import examples_io
from components import quarantine
from components import span_reuse
from data import record_files
from components.yamnet_embedding import embed

YAMNET_HANDLE_KEY = properties.YAMNET_HANDLE
YAMNET_FINGERPRINT_KEY = properties.YAMNET_FINGERPRINT
BATCH_SIZE_KEY = 'batch_size'
EMBEDDINGS_KEY = 'embeddings'
QUARANTINE_KEY = span_reuse.QUARANTINE_KEY


# Under the output artifact, where patch files are written before renaming.
_STAGING_DIR = '.staging'


def worker_cores(beam_pipeline_args: Sequence[str]) -> Optional[int]:
  """The cores each DirectRunner worker process has, None under other runners.

  Worker processes (multi_processing) share this machine's cores; workers in
  one process (in_memory, multi_threading) have all of them. Other runners'
  machines are not this one.
  """
  direct = beam_options.direct_options(beam_pipeline_args)
  if direct is None:
    return None
  cores = os.cpu_count() or 1
  if direct.direct_running_mode != 'multi_processing':
    return cores
  return max(1, cores // (direct.direct_num_workers or cores))


def workers_in_this_process(beam_pipeline_args: Sequence[str]) -> bool:
  """Whether the DirectRunner runs its workers in the executor's process."""
  direct = beam_options.direct_options(beam_pipeline_args)
  return (direct is not None and
          direct.direct_running_mode != 'multi_processing')


def _clips_in(clips: types.Artifact) -> int:
  """Clips in the input: as Esc50ExampleGen recorded, else counted."""
  if clips.has_custom_property(properties.CLIPS_LISTED):
    return (clips.get_int_custom_property(properties.CLIPS_LISTED) -
            clips.get_int_custom_property(
                properties.CLIPS_QUARANTINED))
  return record_files.count_records(examples_io.split_files(
      clips, artifact_utils.decode_split_names(clips.split_names)))


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
  query = result.metrics().query(metric.MetricsFilter().with_namespace(
      embed.METRICS_NAMESPACE).with_name(name))
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
    cores = worker_cores(self._beam_pipeline_args)
    in_process = workers_in_this_process(self._beam_pipeline_args)
    if in_process:
      # Before the load below, as TF fixes its thread pools at its first op.
      embed.configure_tf_threads(cores)
    # Loads YAMNet before Beam starts, so a bad handle fails at once; workers
    # in this process reuse the model while it is held here.
    shared_yamnet = shared.Shared()
    yamnet = shared_yamnet.acquire(lambda: embed.Yamnet(handle))

    plan = json.loads(exec_properties.get(span_reuse.PLAN_KEY) or
                      json.dumps(span_reuse.NO_PLAN))
    reused = span_reuse.reused_spans(plan)
    copied, earlier_quarantine = span_reuse.copy_reused(
        plan, EMBEDDINGS_KEY, embeddings, split_names)
    shards = [shard for shard in _shards(clips, embeddings, split_names)
              if examples_io.span_of_file(shard.clips_path) not in reused]
    logging.info('YamnetEmbeddingGen: %d shards to embed; spans %s copied '
                 'from earlier runs', len(shards), sorted(reused) or 'none')
    staging_dir = os.path.join(embeddings.uri, _STAGING_DIR)
    fileio.makedirs(staging_dir)

    pipeline = self._make_beam_pipeline()
    quarantined_clips = (
        pipeline
        | 'ListClipShards' >> beam.Create(shards)
        | 'Embed' >> beam.ParDo(embed.EmbedShardFn(
            handle, shared_yamnet, batch_size, staging_dir, calls=cores or 1,
            tf_threads=None if in_process else cores)))
    _ = ((quarantined_clips,
          pipeline | 'EarlierQuarantine' >> beam.Create(earlier_quarantine))
         | 'MergeQuarantine' >> beam.Flatten()
         | 'WriteQuarantine' >> quarantine.WriteQuarantine(quarantine_uri))
    result = pipeline.run()
    result.wait_until_finish()
    del yamnet  # Held until the workers in this process are done.
    fileio.rmtree(staging_dir)

    _record_outputs(result, clips, embeddings, split_names, quarantine_uri,
                    exec_properties, (plan, copied, earlier_quarantine))


def _shards(clips: types.Artifact, embeddings: types.Artifact,
            split_names: List[str]) -> List[embed.Shard]:
  """One shard per ExampleGen file, written to the same name per split."""
  shards = []
  for index, split in enumerate(split_names):
    out_dir = artifact_utils.get_split_uri([embeddings], split)
    fileio.makedirs(out_dir)
    for path in examples_io.split_files(clips, [split]):
      shards.append(embed.Shard(index, path, os.path.join(
          out_dir, record_files.uncompressed_name(path))))
  return shards


def _clips_to_embed(clips: types.Artifact, reused) -> int:
  """Clips of the spans to embed: ExampleGen's count per span, else all."""
  if not clips.has_custom_property(properties.SPAN_CLIPS):
    return _clips_in(clips)
  per_span = json.loads(clips.get_string_custom_property(properties.SPAN_CLIPS))
  return sum(n for span, n in per_span.items() if int(span) not in reused)


def _record_outputs(result, clips: types.Artifact,
                    embeddings: types.Artifact, split_names: List[str],
                    quarantine_uri: str, exec_properties: Dict[str, Any],
                    reuse):
  """Checks what Beam wrote against its counters and records the counts."""
  plan, copied, earlier_quarantine = reuse
  reused = span_reuse.reused_spans(plan)
  handle = exec_properties[YAMNET_HANDLE_KEY]
  examples_utils.set_payload_format(embeddings,
                                    example_gen_pb2.FORMAT_TF_EXAMPLE)
  # TFX's only name for TFRecords; readers go by the file names.
  examples_utils.set_file_format(
      embeddings,
      write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
  clips_embedded = _counter(result, 'clips')
  patches_by_split = {
      split: _counter(result, embed.split_patches_counter(index)) +
      record_files.count_records(copied[split])
      for index, split in enumerate(split_names)}
  patches = sum(patches_by_split.values())
  quarantined = len(quarantine.read_quarantine(quarantine_uri))
  quarantined_now = quarantined - len(earlier_quarantine)
  examples_io.check_written(
      'YamnetEmbeddingGen', 'clips (embedded or quarantined)',
      {'spans embedded by this run': clips_embedded + quarantined_now},
      {'spans embedded by this run': _clips_to_embed(clips, reused)})
  examples_io.check_written(
      'YamnetEmbeddingGen', 'patch Examples',
      {split: record_files.count_records(
          examples_io.split_files(embeddings, [split]))
       for split in split_names}, patches_by_split)
  clips_reused = (_clips_in(clips) - clips_embedded - quarantined_now -
                  len(earlier_quarantine))
  embeddings.set_string_custom_property(YAMNET_HANDLE_KEY, handle)
  embeddings.set_string_custom_property(
      YAMNET_FINGERPRINT_KEY, exec_properties[YAMNET_FINGERPRINT_KEY])
  for name, value in ((properties.CLIPS_EMBEDDED, clips_embedded),
                      (properties.CLIPS_REUSED, clips_reused),
                      (properties.PATCHES, patches),
                      (properties.CLIPS_QUARANTINED, quarantined),
                      (properties.YAMNET_LOADS,
                       _counter(result, embed.YAMNET_LOADS_COUNTER))):
    embeddings.set_int_custom_property(name, value)
  table = span_reuse.embedding_table(clips, exec_properties[YAMNET_FINGERPRINT_KEY])
  if table:
    embeddings.set_string_custom_property(properties.EMBEDDED_SPANS,
                                          json.dumps(table, sort_keys=True))
    embeddings.set_string_custom_property(span_reuse.PLAN_KEY,
                                          json.dumps(plan, sort_keys=True))
  logging.info('YamnetEmbeddingGen: %d clips -> %d patches, %d reused, %d '
               'quarantined (YAMNet %s)', clips_embedded, patches,
               clips_reused, quarantined, handle)
