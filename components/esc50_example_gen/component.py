"""Esc50ExampleGen: ingests a dataset (ESC-50's layout or class folders).

A class-style Beam component with a driver of its own: before the cache is
consulted, it lists the spans the run reads and fingerprints each one (every
file's name, size and mtime), so an unchanged dataset is served from cache
and a changed or added clip triggers a new run.
"""

import hashlib
import json
from typing import Any, Dict, Optional, Sequence, Union

from tfx import types
from tfx.components.example_gen import driver
from tfx.components.example_gen import utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import base_driver
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter

from components import artifact_properties as properties
from components import quarantine
from components import span_reuse
from components.esc50_example_gen import executor
from components.esc50_example_gen import spans


class DatasetDriver(driver.Driver):
  """Resolves the spans a run reads, their fingerprints, and which of them
  earlier runs already decoded (components/span_reuse.py).

  ExampleGen's driver API (TFX's `Driver`) serves both the portable
  launcher (LocalDagRunner) and the legacy one (Airflow); on Kubeflow no
  driver runs and the executor lists the spans itself.
  """

  _pipeline_name: Optional[str] = None

  def run(self, execution_info):
    # TFX's Driver.run hands resolve_exec_properties no pipeline name.
    self._pipeline_name = execution_info.pipeline_info.id
    return super().run(execution_info)

  def resolve_exec_properties(self, exec_properties: Dict[str, Any],
                              pipeline_info: data_types.PipelineInfo,
                              component_info: data_types.ComponentInfo
                             ) -> Dict[str, Any]:
    del component_info
    table = spans.span_table(
        exec_properties[standard_component_specs.INPUT_BASE_KEY],
        int(exec_properties.get(executor.SPAN_WINDOW_KEY) or 0),
        json.loads(exec_properties[executor.CLASSES_KEY]))
    plan = span_reuse.plan_from_driver(
        self._metadata_handle,
        pipeline_info.pipeline_name or self._pipeline_name, table,
        properties.SPANS)
    exec_properties[executor.SPANS_KEY] = json.dumps(table, sort_keys=True)
    exec_properties[span_reuse.PLAN_KEY] = json.dumps(plan, sort_keys=True)
    exec_properties[utils.SPAN_PROPERTY_NAME] = table[-1]['span']
    exec_properties[utils.VERSION_PROPERTY_NAME] = None
    exec_properties[utils.FINGERPRINT_PROPERTY_NAME] = hashlib.sha256(
        exec_properties[executor.SPANS_KEY].encode('utf-8')).hexdigest()
    return exec_properties

  def _prepare_output_artifacts(self, input_artifacts, output_dict,
                                exec_properties, execution_id, pipeline_info,
                                component_info):
    """Also prepares the outputs besides `examples`: on the legacy launcher
    (Airflow) ExampleGen's driver creates only `examples`."""
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
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
          ExecutionParameter(type=int),
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY:
          ExecutionParameter(type=int),
      executor.CLASSES_KEY: ExecutionParameter(type=str),
      executor.SPAN_WINDOW_KEY: ExecutionParameter(type=int),
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
  """Reads a data root into clip Examples, one split per fold.

  Each Example holds what the dataset says of the clip and the clip as 16 kHz
  mono float32 audio. Only the chosen classes are decoded. Unusable clips go
  to `quarantine`. A data root with `{SPAN}` reads the last `span_window`
  spans (0: all).
  """

  SPEC_CLASS = Esc50ExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = DatasetDriver

  def __init__(self, data_root: Union[str, data_types.RuntimeParameter],
               classes: Union[Sequence[str], data_types.RuntimeParameter],
               max_quarantine_fraction: float,
               span_window: int = 0,
               output_file_format: Optional[int] = None):
    """`classes` may be a str RuntimeParameter holding their JSON list."""
    spec = Esc50ExampleGenSpec(
        input_base=data_root,
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=(output_file_format if output_file_format is not None
                            else example_gen_pb2.FORMAT_TFRECORDS_GZIP),
        classes=(classes if isinstance(classes, data_types.RuntimeParameter)
                 else json.dumps(list(classes))),
        max_quarantine_fraction=float(max_quarantine_fraction),
        span_window=int(span_window),
        examples=types.Channel(type=standard_artifacts.Examples),
        quarantine=types.Channel(type=quarantine.QuarantinedClips))
    super().__init__(spec=spec)
