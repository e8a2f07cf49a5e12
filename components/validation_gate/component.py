"""ValidationGate: TFX's ExampleValidator reports anomalies; this acts on them.

Transform and Trainer take their schema from the gate's output, so on every
orchestrator nothing downstream runs when the clips or the embeddings break
the curated schema, and the error names each anomaly.
"""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter

from components.validation_gate import executor


class ValidationGateSpec(types.ComponentSpec):
  PARAMETERS = {}
  INPUTS = {
      executor.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
      **{key: ChannelParameter(type=standard_artifacts.ExampleAnomalies)
         for key in executor.ANOMALIES_KEYS},
  }
  OUTPUTS = {
      executor.VALIDATED_SCHEMA_KEY:
          ChannelParameter(type=standard_artifacts.Schema),
  }


class ValidationGate(base_component.BaseComponent):
  """Passes `schema` on as `validated_schema` only if there is no anomaly."""

  SPEC_CLASS = ValidationGateSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, schema: types.BaseChannel,
               clip_anomalies: types.BaseChannel,
               embedding_anomalies: types.BaseChannel):
    super().__init__(spec=ValidationGateSpec(
        schema=schema, clip_anomalies=clip_anomalies,
        embedding_anomalies=embedding_anomalies,
        validated_schema=types.Channel(type=standard_artifacts.Schema)))
