"""The final summary of a pipeline run, read back from MLMD.

Everything shown is what the orchestrator recorded (execution states and
times, artifact properties, TFMA results), so the summary is the same whether
a component ran or was served from cache.
"""

import json
from typing import Any, Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.types import artifact_utils

from pipeline import evaluation_results

_STATES = {
    metadata_store_pb2.Execution.COMPLETE: 'complete',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.NEW: 'new',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
}

# Order in which components appear in the summary.
NODE_ORDER = ('Esc50ExampleGen', 'clip_statistics', 'clip_schema',
              'clip_validator', 'YamnetEmbeddingGen', 'embedding_schema',
              'embedding_statistics', 'embedding_validator', 'ValidationGate',
              'Transform', 'Trainer', 'latest_blessed_model_resolver',
              'Evaluator', 'patch_evaluator', 'ServingModelValidator',
              'Pusher')
# The clip-level Evaluator whose blessing gates the push, and the patch-level
# one reported beside it.
GATE_EVALUATOR = 'Evaluator'
PATCH_EVALUATOR = 'patch_evaluator'


def _property(artifact: metadata_store_pb2.Artifact, name: str) -> Any:
  if name not in artifact.custom_properties:
    return None
  value = artifact.custom_properties[name]
  kind = value.WhichOneof('value')
  return getattr(value, kind) if kind else None


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
            ) -> List[metadata_store_pb2.Artifact]:
  events = store.get_events_by_execution_ids([execution_id])
  ids = [e.artifact_id for e in events
         if e.type == metadata_store_pb2.Event.OUTPUT]
  return store.get_artifacts_by_id(ids) if ids else []


def _artifact_type(store, artifact) -> str:
  return store.get_artifact_types_by_id([artifact.type_id])[0].name


def collect_summary(connection_config: metadata_store_pb2.ConnectionConfig,
                    pipeline_name: str) -> Dict[str, Any]:
  """The summary of the latest run of `pipeline_name`."""
  store = metadata_store.MetadataStore(connection_config)
  run = _latest_run_context(store, pipeline_name)
  summary: Dict[str, Any] = {
      'pipeline': pipeline_name, 'run_id': run.name, 'components': {},
      'clips': {}, 'metrics': {}, 'per_class_metrics': {},
      'patch_metrics': {}, 'confusion_matrix': None,
      'per_class_precision_recall': {}, 'blessed': None,
      'blessing_reason': None, 'pushed': False, 'pushed_path': None,
      'serving_check': None,
  }
  uris = {}
  executions = store.get_executions_by_context(run.id)
  for execution in sorted(executions, key=lambda e: e.id):
    node = _node_id(store, execution.id, pipeline_name)
    seconds = (execution.last_update_time_since_epoch -
               execution.create_time_since_epoch) / 1000.0
    summary['components'][node] = {
        'status': _STATES.get(execution.last_known_state, 'unknown'),
        'seconds': round(seconds, 1)}
    for artifact in _outputs(store, execution.id):
      _add_artifact_facts(summary, store, node, artifact)
      uris[(node, _artifact_type(store, artifact))] = artifact.uri
  _add_confusion_matrix(summary, uris.get(('Trainer', 'Model')),
                        uris.get((GATE_EVALUATOR, 'ModelEvaluation')))
  summary['status'] = ('failed' if any(
      c['status'] == 'failed' for c in summary['components'].values())
                       else 'complete')
  return summary


def latest_run_outputs(connection_config: metadata_store_pb2.ConnectionConfig,
                       pipeline_name: str
                      ) -> Dict[str, Dict[str, List[types.Artifact]]]:
  """Output artifacts of the latest run, by node id and output key.

  A cached execution points at the artifacts it reused, so a fully cached
  run still leads to the data it stands for.
  """
  store = metadata_store.MetadataStore(connection_config)
  run = _latest_run_context(store, pipeline_name)
  outputs: Dict[str, Dict[str, List[types.Artifact]]] = {}
  for execution in store.get_executions_by_context(run.id):
    node = outputs.setdefault(
        _node_id(store, execution.id, pipeline_name), {})
    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type == metadata_store_pb2.Event.OUTPUT]
    for event in events:
      artifact = store.get_artifacts_by_id([event.artifact_id])[0]
      artifact_type = store.get_artifact_types_by_id([artifact.type_id])[0]
      node.setdefault(event.path.steps[0].key, []).append(
          artifact_utils.deserialize_artifact(artifact_type, artifact))
  return outputs


def _add_artifact_facts(summary, store, node, artifact) -> None:
  kind = _artifact_type(store, artifact)
  clips = summary['clips']
  if node == 'Esc50ExampleGen' and kind == 'Examples':
    clips['listed'] = _property(artifact, 'clips_listed')
    clips['quarantined_decoding'] = _property(artifact, 'clips_quarantined')
  elif node == 'YamnetEmbeddingGen' and kind == 'Examples':
    clips['embedded'] = _property(artifact, 'clips_embedded')
    clips['patches'] = _property(artifact, 'patches')
    clips['quarantined_embedding'] = _property(artifact, 'clips_quarantined')
    summary['yamnet'] = {
        'handle': _property(artifact, 'yamnet_handle'),
        'fingerprint': _property(artifact, 'yamnet_fingerprint')}
  elif kind == 'ModelBlessing' and node == GATE_EVALUATOR:
    summary['blessed'] = bool(_property(artifact, 'blessed'))
  elif kind == 'ModelEvaluation' and node == GATE_EVALUATOR:
    by_slice = evaluation_results.metrics_by_slice(artifact.uri)
    summary['metrics'] = by_slice.pop('overall', {})
    summary['per_class_metrics'] = by_slice
    summary['blessing_reason'] = evaluation_results.gate_reason(artifact.uri)
  elif kind == 'ModelEvaluation' and node == PATCH_EVALUATOR:
    summary['patch_metrics'] = evaluation_results.metrics_by_slice(
        artifact.uri).get('overall', {})
  elif kind == 'InfraBlessing':
    summary['serving_check'] = {
        'passed': bool(_property(artifact, 'blessed')),
        'reason': _property(artifact, 'reason')}
  elif kind == 'PushedModel':
    summary['pushed'] = bool(_property(artifact, 'pushed'))
    summary['pushed_path'] = _property(artifact, 'pushed_destination')
  if 'listed' in clips and 'embedded' in clips:
    clips['quarantined'] = ((clips.get('quarantined_decoding') or 0) +
                            (clips.get('quarantined_embedding') or 0))


def _add_confusion_matrix(summary: Dict[str, Any], model_uri: Optional[str],
                          evaluation_uri: Optional[str]) -> None:
  """The gate's clip confusion matrix and per-class precision and recall."""
  if not (model_uri and evaluation_uri):
    return
  classes = evaluation_results.model_class_names(model_uri)
  matrix = evaluation_results.confusion_matrix(evaluation_uri, len(classes))
  if matrix is None:
    return
  summary['confusion_matrix'] = {'classes': classes, 'matrix': matrix.tolist()}
  summary['per_class_precision_recall'] = (
      evaluation_results.per_class_metrics(matrix, classes)['per_class'])


def format_summary(summary: Dict[str, Any]) -> str:
  """A human-readable table of the summary."""
  lines = [f"Pipeline {summary['pipeline']} run {summary['run_id']}: "
           f"{summary['status']}", '']
  components = summary['components']
  names = sorted(components, key=lambda n: (
      NODE_ORDER.index(n) if n in NODE_ORDER else len(NODE_ORDER), n))
  for name in names:
    facts = components[name]
    lines.append(f"  {name:32s} {facts['status']:9s} {facts['seconds']:8.1f} s")
  clips = summary['clips']
  if clips:
    lines.append('')
    lines.append(
        f"Clips: {clips.get('listed')} listed, {clips.get('embedded')} "
        f"embedded, {clips.get('quarantined')} quarantined "
        f"({clips.get('patches')} patches)")
  for label, key in (('Test clips (the gate)', 'metrics'),
                     ('Test patches', 'patch_metrics')):
    if summary.get(key):
      lines.append(f'{label}: ' + ', '.join(
          f'{name}={value:.4f}' for name, value in
          sorted(summary[key].items())))
  if summary['blessed'] is not None:
    lines.append(f"Blessed: {'yes' if summary['blessed'] else 'no'} "
                 f"({summary['blessing_reason']})")
  check = summary['serving_check']
  if check:
    lines.append(f"Serving check: {'passed' if check['passed'] else 'failed'} "
                 f"({check['reason']})")
  lines.append(f"Pushed: {summary['pushed_path'] if summary['pushed'] else 'no'}")
  if summary.get('report_path'):
    lines.append(f"Report: {summary['report_path']}")
  return '\n'.join(lines)


def write_summary_json(summary: Dict[str, Any], path: Optional[str]) -> None:
  if path:
    with open(path, 'w', encoding='utf-8') as f:
      json.dump(summary, f, indent=2, sort_keys=True)
