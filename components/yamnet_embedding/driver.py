"""YamnetEmbeddingGen's driver: which spans earlier runs already embedded.

A span's patch Examples depend on its clip Examples' table entry (span,
fingerprint, classes) and on the YAMNet used; an earlier output whose table
holds the same entry gives its files to copy (components/span_reuse.py).
The plan becomes an execution property before the cache is consulted.
"""

import json
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import base_driver as portable_driver
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import standard_component_specs

from components import artifact_properties as properties
from components import span_reuse
from components.yamnet_embedding import executor


class EmbeddingReuseDriver(base_driver.BaseDriver, portable_driver.BaseDriver):
  """Adds the reuse plan to the execution properties, on the portable
  launcher (LocalDagRunner, `run`) and the legacy one (Airflow,
  `resolve_input_artifacts`)."""

  def __init__(self, metadata_handle):
    base_driver.BaseDriver.__init__(self, metadata_handle)
    portable_driver.BaseDriver.__init__(self, metadata_handle)

  def _plan(self, clips: List[types.Artifact], exec_properties: Dict[str, Any],
            pipeline_name: str) -> str:
    table = span_reuse.embedding_table(
        clips[0] if clips else None,
        exec_properties[executor.YAMNET_FINGERPRINT_KEY])
    plan = span_reuse.plan_from_driver(
        self._metadata_handle, pipeline_name, table,
        properties.EMBEDDED_SPANS) if table else span_reuse.NO_PLAN
    return json.dumps(plan, sort_keys=True)

  def run(self, execution_info) -> driver_output_pb2.DriverOutput:
    result = driver_output_pb2.DriverOutput()
    result.exec_properties[span_reuse.PLAN_KEY].string_value = self._plan(
        execution_info.input_dict[standard_component_specs.EXAMPLES_KEY],
        execution_info.exec_properties, execution_info.pipeline_info.id)
    return result

  def resolve_input_artifacts(self, input_dict, exec_properties, driver_args,
                              pipeline_info):
    result = super().resolve_input_artifacts(input_dict, exec_properties,
                                             driver_args, pipeline_info)
    # The legacy launcher consults the cache with this same dict afterwards.
    exec_properties[span_reuse.PLAN_KEY] = self._plan(
        result[standard_component_specs.EXAMPLES_KEY], exec_properties,
        pipeline_info.pipeline_name)
    return result
