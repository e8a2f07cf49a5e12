"""Esc50ExampleGen: ingests `meta/esc50.csv` and the wavs it lists.

A class-style Beam component that reuses TFX's FileBasedDriver, so each run
fingerprints the metadata CSV and every audio file (name, size, mtime): an
unchanged dataset is served from cache, a changed clip triggers a new run.
"""

import json
from typing import Optional, Sequence, Union

from tfx import types
from tfx.components.example_gen import driver
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import base_driver
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import proto_utils

from components import quarantine
from components import splits
from components.esc50_example_gen import executor

# The driver globs these to fingerprint the dataset; folds come from the CSV.
FINGERPRINT_PATTERN = '*/*'


def fold_input_config() -> example_gen_pb2.Input:
  return example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name=name, pattern=FINGERPRINT_PATTERN)
      for name in splits.ALL_FOLD_SPLITS
  ])


class Esc50ExampleGenDriver(driver.FileBasedDriver):
  """FileBasedDriver that also prepares the outputs besides `examples`.

  On the legacy launcher that AirflowDagRunner uses, ExampleGen's driver
  creates only the `examples` artifact, which would leave `quarantine` unset.
  """

  def _prepare_output_artifacts(self, input_artifacts, output_dict,
                                exec_properties, execution_id, pipeline_info,
                                component_info):
    result = super()._prepare_output_artifacts(
        input_artifacts, output_dict, exec_properties, execution_id,
        pipeline_info, component_info)
    others = {k: v for k, v in output_dict.items() if k not in result}
    # pylint: disable-next=protected-access
    result.update(base_driver.BaseDriver._prepare_output_artifacts(
        self, input_artifacts, others, exec_properties, execution_id,
        pipeline_info, component_info))
    return result


class Esc50ExampleGenSpec(types.ComponentSpec):
  """Parameters and outputs of Esc50ExampleGen."""
  PARAMETERS = {
      standard_component_specs.INPUT_BASE_KEY: ExecutionParameter(type=str),
      standard_component_specs.INPUT_CONFIG_KEY: ExecutionParameter(type=str),
      standard_component_specs.OUTPUT_CONFIG_KEY: ExecutionParameter(type=str),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
          ExecutionParameter(type=int),
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY:
          ExecutionParameter(type=int),
      standard_component_specs.RANGE_CONFIG_KEY:
          ExecutionParameter(type=str, optional=True),
      executor.CLASSES_KEY: ExecutionParameter(type=str),
      executor.MAX_QUARANTINE_FRACTION_KEY: ExecutionParameter(type=float),
  }
  INPUTS = {}
  OUTPUTS = {
      standard_component_specs.EXAMPLES_KEY:
          ChannelParameter(type=standard_artifacts.Examples),
      executor.QUARANTINE_KEY:
          ChannelParameter(type=quarantine.QuarantinedClips),
  }


class Esc50ExampleGen(base_beam_component.BaseBeamComponent):
  """Reads an ESC-50 data root into clip Examples, one split per fold.

  Each Example holds the CSV columns and the clip as 16 kHz mono float32 audio.
  Only the chosen classes are decoded. Unusable clips go to `quarantine`.
  """

  SPEC_CLASS = Esc50ExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = Esc50ExampleGenDriver

  def __init__(self, data_root: Union[str, data_types.RuntimeParameter],
               classes: Union[Sequence[str], data_types.RuntimeParameter],
               max_quarantine_fraction: float,
               output_file_format: Optional[int] = None):
    """`classes` may be a str RuntimeParameter holding their JSON list."""
    spec = Esc50ExampleGenSpec(
        input_base=data_root,
        input_config=proto_utils.proto_to_json(fold_input_config()),
        output_config=proto_utils.proto_to_json(example_gen_pb2.Output()),
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=(output_file_format if output_file_format is not None
                            else example_gen_pb2.FORMAT_TFRECORDS_GZIP),
        classes=(classes if isinstance(classes, data_types.RuntimeParameter)
                 else json.dumps(list(classes))),
        max_quarantine_fraction=float(max_quarantine_fraction),
        examples=types.Channel(type=standard_artifacts.Examples),
        quarantine=types.Channel(type=quarantine.QuarantinedClips))
    super().__init__(spec=spec)
