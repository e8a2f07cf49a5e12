"""AtomicPusher: TFX's Pusher with the atomic filesystem push of executor.py,
and the on-device (TFLite) models checked on test clips and pushed with it."""

import json
from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter

from components.atomic_pusher import executor


class AtomicPusherSpec(types.ComponentSpec):
  """TFX's PusherSpec, plus the clip Examples and the splits whose clips the
  TFLite models are checked on (without them no TFLite model is made)."""
  PARAMETERS = {
      **standard_component_specs.PusherSpec.PARAMETERS,
      executor.TFLITE_SPLITS_KEY: ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {
      **standard_component_specs.PusherSpec.INPUTS,
      executor.EXAMPLES_KEY: ChannelParameter(
          type=standard_artifacts.Examples, optional=True),
  }
  OUTPUTS = standard_component_specs.PusherSpec.OUTPUTS


class AtomicPusher(base_component.BaseComponent):
  """Pushes a blessed model; see executor.py for what is written where."""

  SPEC_CLASS = AtomicPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: types.BaseChannel,
               push_destination: pusher_pb2.PushDestination,
               model_blessing: Optional[types.BaseChannel] = None,
               infra_blessing: Optional[types.BaseChannel] = None,
               examples: Optional[types.BaseChannel] = None,
               tflite_splits: Sequence[str] = ()):
    if bool(examples) != bool(tflite_splits):
      raise ValueError('give both examples and tflite_splits, or neither')
    super().__init__(spec=AtomicPusherSpec(
        model=model, model_blessing=model_blessing,
        infra_blessing=infra_blessing, push_destination=push_destination,
        examples=examples,
        tflite_splits=json.dumps(list(tflite_splits)) if tflite_splits
        else None,
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
