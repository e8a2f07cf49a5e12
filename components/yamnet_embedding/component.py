"""YamnetEmbeddingGen: a class-style Beam component computing YAMNet embeddings.

Which YAMNet produced the embeddings is an execution parameter (handle and a
content fingerprint), so it is recorded in MLMD and a different model never
reuses cached embeddings. Spans an earlier run embedded with the same YAMNet
are copied, not embedded again (driver.py, components/span_reuse.py).
"""

from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter

from components import quarantine
from components.yamnet_embedding import driver
from components.yamnet_embedding import executor


class YamnetEmbeddingGenSpec(types.ComponentSpec):
  """Inputs, parameters and outputs of YamnetEmbeddingGen."""
  PARAMETERS = {
      executor.YAMNET_HANDLE_KEY: ExecutionParameter(type=str),
      executor.YAMNET_FINGERPRINT_KEY: ExecutionParameter(type=str),
      executor.BATCH_SIZE_KEY: ExecutionParameter(type=int),
  }
  INPUTS = {
      standard_component_specs.EXAMPLES_KEY:
          ChannelParameter(type=standard_artifacts.Examples),
  }
  OUTPUTS = {
      executor.EMBEDDINGS_KEY:
          ChannelParameter(type=standard_artifacts.Examples),
      executor.QUARANTINE_KEY:
          ChannelParameter(type=quarantine.QuarantinedClips),
  }


class YamnetEmbeddingGen(base_beam_component.BaseBeamComponent):
  """Embeds every clip with YAMNet; one Example per 0.96 s patch, same splits.

  Output features: embedding float[1024], label (class name), target, fold,
  clip_id, patch_index, num_patches.

  batch_size is how many clips one graph call embeds; each worker keeps one
  call in flight per core of its process, which bounds the audio it holds.
  Beam's elements are the files (shards) of the clip Examples, and each
  shard's patches go to a file of the same name; under the DirectRunner the
  default (one in-process worker) embedded as fast as any mode on two cores
  (docs/performance.md).
  """

  SPEC_CLASS = YamnetEmbeddingGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = driver.EmbeddingReuseDriver

  def __init__(self, examples: types.BaseChannel, yamnet_handle: str,
               yamnet_fingerprint: str, batch_size: int):
    spec = YamnetEmbeddingGenSpec(
        examples=examples,
        yamnet_handle=yamnet_handle,
        yamnet_fingerprint=yamnet_fingerprint,
        batch_size=batch_size,
        embeddings=types.Channel(type=standard_artifacts.Examples),
        quarantine=types.Channel(type=quarantine.QuarantinedClips))
    super().__init__(spec=spec)
