"""ServingModelValidator: InfraValidator's role without a model server.

TFX's InfraValidator needs Docker or Kubernetes to start TF Serving. This
component instead loads the exported SavedModel in a fresh process exactly as
TF Serving does (tag `serve`, signatures only, warm-up replay) and checks the
serving contract on canonical inputs. Its InfraBlessing gates the Pusher.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter

from components.model_validator import executor


class ServingModelValidatorSpec(types.ComponentSpec):
  """Inputs, parameters and outputs of ServingModelValidator."""
  PARAMETERS = {
      executor.TIMEOUT_KEY: ExecutionParameter(type=int, optional=True),
  }
  INPUTS = {
      executor.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      executor.MODEL_BLESSING_KEY: ChannelParameter(
          type=standard_artifacts.ModelBlessing, optional=True),
  }
  OUTPUTS = {
      executor.BLESSING_KEY:
          ChannelParameter(type=standard_artifacts.InfraBlessing),
  }


class ServingModelValidator(base_component.BaseComponent):
  """Blesses a model for push only if it serves correctly.

  Unblessed by the Evaluator means not checked and not blessed. The output
  `blessing` has custom properties `blessed` (0/1) and `reason`.
  """

  SPEC_CLASS = ServingModelValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: types.BaseChannel,
               model_blessing: Optional[types.BaseChannel] = None,
               timeout_seconds: int = executor.DEFAULT_TIMEOUT_SECONDS):
    super().__init__(spec=ServingModelValidatorSpec(
        model=model, model_blessing=model_blessing,
        timeout_seconds=timeout_seconds,
        blessing=types.Channel(type=standard_artifacts.InfraBlessing)))
