"""Helpers for executor tests: run executors on artifacts in a temp dir."""

import os

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts

from components import beam_options
from components import examples_io
from components import quarantine
from data import record_files
from components.esc50_example_gen import executor as example_gen_executor
from components.esc50_example_gen.component import Esc50ExampleGen
from yamnet import loader
from components.yamnet_embedding import executor as embedding_executor
from components.yamnet_embedding.component import YamnetEmbeddingGen


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
