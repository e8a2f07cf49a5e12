"""A pipeline run as MLMD recorded it: each node's execution and outputs.

The run summary, the report and cross-validation read runs back through this
one module. A cached execution points at the artifacts it reused, so a fully
cached run still leads to the data it stands for.
"""

import dataclasses
import json
from typing import Any, Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.types import artifact_utils

_STATES = {
    metadata_store_pb2.Execution.COMPLETE: 'complete',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.NEW: 'new',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
}


@dataclasses.dataclass(frozen=True)
class NodeRun:
  """One node's execution in a run."""
  status: str
  seconds: float
  # Output artifacts by output key.
  outputs: Dict[str, List[types.Artifact]]


@dataclasses.dataclass(frozen=True)
class Run:
  """The latest run of a pipeline: its id and each node's execution."""
  pipeline: str
  run_id: str
  nodes: Dict[str, NodeRun]

  def artifacts(self, node_id: str, key: str) -> List[types.Artifact]:
    node = self.nodes.get(node_id)
    return list(node.outputs.get(key, [])) if node else []

  def single(self, node_id: str, key: str) -> Optional[types.Artifact]:
    """The node's one artifact under key, or None if it wrote none."""
    artifacts = self.artifacts(node_id, key)
    return artifacts[0] if artifacts else None


def _latest_run_context(store: metadata_store.MetadataStore,
                        pipeline_name: str) -> metadata_store_pb2.Context:
  pipelines = [c for c in store.get_contexts_by_type('pipeline')
               if c.name == pipeline_name]
  if not pipelines:
    raise LookupError(f'no run of pipeline {pipeline_name!r} in this MLMD')
  runs = store.get_children_contexts_by_context(pipelines[0].id)
  runs = [c for c in runs if c.type_id == store.get_context_type(
      'pipeline_run').id] or store.get_contexts_by_type('pipeline_run')
  return max(runs, key=lambda c: c.id)


def _node_id(store: metadata_store.MetadataStore, execution_id: int,
             pipeline_name: str) -> str:
  node_type = store.get_context_type('node').id
  for context in store.get_contexts_by_execution(execution_id):
    if context.type_id == node_type:
      return context.name[len(pipeline_name) + 1:]
  return 'unknown'


def _outputs(store: metadata_store.MetadataStore, execution_id: int
            ) -> Dict[str, List[types.Artifact]]:
  outputs: Dict[str, List[types.Artifact]] = {}
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type == metadata_store_pb2.Event.OUTPUT]
  for event in events:
    artifact = store.get_artifacts_by_id([event.artifact_id])[0]
    artifact_type = store.get_artifact_types_by_id([artifact.type_id])[0]
    outputs.setdefault(event.path.steps[0].key, []).append(
        artifact_utils.deserialize_artifact(artifact_type, artifact))
  return outputs


def latest_run(connection_config: metadata_store_pb2.ConnectionConfig,
               pipeline_name: str) -> Run:
  """The latest run of `pipeline_name`; LookupError if it never ran."""
  store = metadata_store.MetadataStore(connection_config)
  context = _latest_run_context(store, pipeline_name)
  nodes: Dict[str, NodeRun] = {}
  for execution in sorted(store.get_executions_by_context(context.id),
                          key=lambda e: e.id):
    seconds = (execution.last_update_time_since_epoch -
               execution.create_time_since_epoch) / 1000.0
    nodes[_node_id(store, execution.id, pipeline_name)] = NodeRun(
        status=_STATES.get(execution.last_known_state, 'unknown'),
        seconds=round(seconds, 1), outputs=_outputs(store, execution.id))
  return Run(pipeline=pipeline_name, run_id=context.name, nodes=nodes)


def int_property(artifact: Optional[types.Artifact],
                 name: str) -> Optional[int]:
  """An int custom property, None when the artifact or property is absent."""
  if artifact is None or not artifact.has_custom_property(name):
    return None
  return artifact.get_int_custom_property(name)


def string_property(artifact: Optional[types.Artifact],
                    name: str) -> Optional[str]:
  if artifact is None or not artifact.has_custom_property(name):
    return None
  return artifact.get_string_custom_property(name)


def json_property(artifact: Optional[types.Artifact], name: str) -> Any:
  """A custom property holding JSON text, decoded; None when absent."""
  text = string_property(artifact, name)
  return None if text is None else json.loads(text)
