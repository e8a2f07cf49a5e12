"""Helpers for executor tests: run executors on artifacts in a temp dir."""

import os

import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts

from components import artifact_properties as properties
from components import beam_options
from components import examples_io
from components import quarantine
from components import splits
from data import record_files
from components.esc50_example_gen import executor as example_gen_executor
from components.esc50_example_gen.component import Esc50ExampleGen
from pipeline import mlmd_runs
from pipeline import pipeline as pipeline_def
from yamnet import loader
from yamnet import patch_examples as patches
from components.yamnet_embedding import executor as embedding_executor
from components.yamnet_embedding.component import YamnetEmbeddingGen


def latest_run(config):
  """What MLMD recorded of the latest run of the config's local pipeline."""
  return mlmd_runs.latest_run(
      pipeline_def.local_deployment(config).metadata_connection_config,
      config.pipeline_name)


def pushed_versions(config):
  """The versions Pusher wrote under config.serving_model_dir, oldest first."""
  if not os.path.isdir(config.serving_model_dir):
    return []
  return sorted(int(name) for name in os.listdir(config.serving_model_dir)
                if name.isdigit())


def embeddings_by_patch(examples):
  """{(clip id, patch index): embedding} of an embeddings Examples artifact."""
  columns = record_files.read_columns(
      examples_io.split_files(examples, splits.ALL_FOLD_SPLITS),
      {name: patches.FEATURE_SPEC[name] for name in
       (patches.EMBEDDING, patches.CLIP_ID, patches.PATCH_INDEX)})
  keys = zip((record_files.decode(c) for c in columns[patches.CLIP_ID]),
             columns[patches.PATCH_INDEX].tolist())
  return dict(zip(keys, columns[patches.EMBEDDING]))


def first_run_examples(config, embeddings):
  """The first Examples artifact the config's pipeline wrote: its clips, or
  (embeddings=True) its embeddings. Session fixtures rerun the same pipeline
  with other inputs later."""
  store = metadata_store.MetadataStore(
      pipeline_def.local_deployment(config).metadata_connection_config)
  artifact = standard_artifacts.Examples()
  artifact.set_mlmd_artifact(min(
      (a for a in store.get_artifacts_by_type(artifact.type_name)
       if (properties.EMBEDDED_SPANS in a.custom_properties) == embeddings),
      key=lambda a: a.id))
  return artifact


def first_run_embeddings(config):
  """embeddings_by_patch of the config's pipeline's first embeddings."""
  return embeddings_by_patch(first_run_examples(config, embeddings=True))


def read_split(examples, split):
  """All tf.Examples of one split of an Examples artifact."""
  return [tf.train.Example.FromString(r.numpy()) for r in
          record_files.record_dataset(examples_io.split_files(examples,
                                                              [split]))]


def run_example_gen(out_dir, data_root, classes, max_fraction=0.5):
  """Runs Esc50ExampleGen's executor; returns (examples, quarantine)."""
  examples = standard_artifacts.Examples()
  examples.uri = os.path.join(str(out_dir), 'examples')
  clips_quarantine = quarantine.QuarantinedClips()
  clips_quarantine.uri = os.path.join(str(out_dir), 'quarantine')
  component = Esc50ExampleGen(data_root=data_root, classes=classes,
                              max_quarantine_fraction=max_fraction)
  example_gen_executor.Executor().Do(
      {}, {'examples': [examples], 'quarantine': [clips_quarantine]},
      dict(component.exec_properties))
  return examples, clips_quarantine


def run_embedding(out_dir, clips, handle, beam_pipeline_args=None):
  """Runs the executor with the exec properties its component would pass,
  and the Beam arguments as local runs pass them."""
  embeddings = standard_artifacts.Examples()
  embeddings.uri = os.path.join(str(out_dir), 'embeddings')
  failures = quarantine.QuarantinedClips()
  failures.uri = os.path.join(str(out_dir), 'embedding_quarantine')
  component = YamnetEmbeddingGen(
      examples=types.Channel(type=standard_artifacts.Examples),
      yamnet_handle=handle,
      yamnet_fingerprint=loader.yamnet_fingerprint(handle), batch_size=4)
  context = base_beam_executor.BaseBeamExecutor.Context(
      beam_pipeline_args=beam_options.local_beam_args(beam_pipeline_args or
                                                      []),
      tmp_dir=os.path.join(str(out_dir), 'tmp'))
  embedding_executor.Executor(context).Do({'examples': [clips]},
                         {'embeddings': [embeddings], 'quarantine': [failures]},
                         dict(component.exec_properties))
  return embeddings, failures
