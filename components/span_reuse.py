"""Each span ingested and embedded once: finding a span's earlier outputs.

Esc50ExampleGen and YamnetEmbeddingGen write each span's records to files of
their own (`span-<N>-...` in every split) and record on their main output a
table of the spans it holds, one entry per span with what the span's records
depend on (its fingerprint, the classes chosen in it, the YAMNet used). Before
the next run, their drivers look in MLMD for earlier outputs of the same kind
in the same pipeline whose table holds an equal entry; the executor then
copies those files instead of computing them again.

The plan (span -> the earlier execution's output URIs) is an execution
property, so it is part of the cache key. When an earlier output's table
equals the run's table (nothing changed since, or the data is back to what it
was), the plan is that output's own plan, the execution properties are the
same as then, and the run is served from cache.
"""

import json
import logging
from typing import Any, Dict, List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components import artifact_properties as properties
from components import examples_io
from components import quarantine

PIPELINE_CONTEXT_TYPE = 'pipeline'
# Execution property, recorded on the output too: {'reuse': {span: {output
# key: URI of the earlier output}}, 'changed': [spans whose files changed
# since an earlier output held them]}.
PLAN_KEY = 'span_reuse'
# Both components' output key for their quarantined clips.
QUARANTINE_KEY = 'quarantine'
NO_PLAN = {'reuse': {}, 'changed': []}

Plan = Dict[str, Any]


def _earlier_outputs(store, pipeline_name: str, table_property: str
                    ) -> List[metadata_store_pb2.Artifact]:
  """The pipeline's artifacts that record a span table, newest first."""
  context = store.get_context_by_type_and_name(PIPELINE_CONTEXT_TYPE,
                                               pipeline_name)
  if context is None:
    return []
  artifacts = [a for a in store.get_artifacts_by_context(context.id)
               if table_property in a.custom_properties and
               a.state == metadata_store_pb2.Artifact.LIVE]
  return sorted(artifacts, key=lambda a: a.id, reverse=True)


def _sibling_uris(store, artifact_id: int) -> Dict[str, str]:
  """The URIs of every output of the execution that produced an artifact."""
  producers = [e.execution_id for e in store.get_events_by_artifact_ids(
      [artifact_id]) if e.type == metadata_store_pb2.Event.OUTPUT]
  if not producers:
    return {}
  events = [e for e in store.get_events_by_execution_ids([producers[0]])
            if e.type == metadata_store_pb2.Event.OUTPUT]
  by_id = {a.id: a for a in store.get_artifacts_by_id(
      [e.artifact_id for e in events])}
  return {e.path.steps[0].key: by_id[e.artifact_id].uri for e in events
          if e.path.steps and e.artifact_id in by_id}


def _table(artifact, name: str) -> List[Dict[str, Any]]:
  return json.loads(artifact.custom_properties[name].string_value)


def plan_reuse(store, pipeline_name: str, table: List[Dict[str, Any]],
               table_property: str) -> Plan:
  """Which spans of `table` earlier outputs hold, and which changed.

  `table` entries are {span, ...}; an earlier entry equal to one of them
  means the span's records can be copied from that output.
  """
  earlier = _earlier_outputs(store, pipeline_name, table_property)
  if not earlier:
    return NO_PLAN
  for artifact in earlier:
    if _table(artifact, table_property) == table:
      plan = json.loads(artifact.custom_properties[PLAN_KEY].string_value)
      if all(fileio.exists(uri) for uris in plan['reuse'].values()
             for uri in uris.values()):
        return plan
  reuse: Dict[str, Dict[str, str]] = {}
  changed = []
  for entry in table:
    for artifact in earlier:
      old = [e for e in _table(artifact, table_property)
             if e['span'] == entry['span']]
      if old and old[0] == entry:
        uris = _sibling_uris(store, artifact.id)
        if uris and all(fileio.exists(u) for u in uris.values()):
          reuse[str(entry['span'])] = uris
          break
    else:
      if any(e['span'] == entry['span'] and e.get('fingerprint') !=
             entry.get('fingerprint')
             for a in earlier for e in _table(a, table_property)):
        changed.append(entry['span'])
  for span in changed:
    logging.warning('Span %d changed since it was last ingested (its files '
                    'differ): reading and embedding it again', span)
  return {'reuse': reuse, 'changed': changed}


def plan_from_driver(metadata_handle, pipeline_name: Optional[str],
                     table: List[Dict[str, Any]], table_property: str) -> Plan:
  """plan_reuse through a driver's MLMD handle (open or not)."""
  if not pipeline_name or metadata_handle is None:
    return NO_PLAN
  with metadata_handle as m:
    return plan_reuse(m.store, pipeline_name, table, table_property)


def embedding_table(clips: Optional[types.Artifact],
                    yamnet_fingerprint: str) -> List[Dict[str, Any]]:
  """The clip table's entries, each with the YAMNet that embeds it."""
  if clips is None or not clips.has_custom_property(properties.SPANS):
    return []
  return [dict(entry, yamnet=yamnet_fingerprint) for entry in json.loads(
      clips.get_string_custom_property(properties.SPANS))]


def reused_spans(plan: Plan) -> Dict[int, Dict[str, str]]:
  return {int(span): uris for span, uris in plan['reuse'].items()}


def copy_reused(plan: Plan, records_key: str, target: types.Artifact,
                split_names: List[str]) -> Tuple[Dict[str, List[str]],
                                                 List[Dict[str, Any]]]:
  """Copies the reused spans' record files from the earlier outputs.

  Returns the copies' paths per split and the earlier quarantine records of
  those spans (the earlier execution's `quarantine` output). Nothing is read
  here: a caller that needs the copies' record counts counts them.
  """
  copied: Dict[str, List[str]] = {split: [] for split in split_names}
  quarantined = []
  for span, uris in sorted(reused_spans(plan).items()):
    for split in split_names:
      target_dir = artifact_utils.get_split_uri([target], split)
      fileio.makedirs(target_dir)
      for path in examples_io.span_files(
          examples_io.split_dir(uris[records_key], split), span):
        copy = f'{target_dir}/{path.rsplit("/", 1)[1]}'
        fileio.copy(path, copy, overwrite=True)
        copied[split].append(copy)
    quarantined += [r for r in quarantine.read_quarantine(uris[QUARANTINE_KEY])
                    if r['span'] == span]
  return copied, quarantined
