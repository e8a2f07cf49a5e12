"""Resolvers of earlier models: the gate's baseline (the last blessed model,
if it knows this run's classes) and the Trainer's warm start.

A model trained before a class first appeared cannot be evaluated on clips of
that class (its clip_label signature has no index for it), so comparing with
it would fail the Evaluator. When the classes differ, the gate compares with
no baseline and applies its accuracy threshold alone.

Kubeflow Pipelines V2 compiles only TFX's own resolver strategies, so a
Kubeflow deployment uses LatestBlessedModelStrategy (pipeline.py).
"""

import json
from typing import Dict, List, Optional, Set

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy
from tfx.types import standard_artifacts

from components import artifact_properties as properties
from pipeline import evaluation_results

MODEL = 'model'
MODEL_BLESSING = 'model_blessing'
# ExampleGen's output of this run: the classes it chose.
EXAMPLES = 'examples'


class SameClassesBlessedModelStrategy(
    latest_blessed_model_strategy.LatestBlessedModelStrategy):
  """LatestBlessedModelStrategy, dropping a model of other classes."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                       ) -> Optional[Dict[str, List[types.Artifact]]]:
    examples = input_dict.pop(EXAMPLES)
    result = super().resolve_artifacts(store, input_dict)
    if result and result[MODEL] and examples:
      classes = json.loads(
          examples[0].get_string_custom_property(properties.CLASSES) or '[]')
      served = evaluation_results.model_class_names(result[MODEL][0].uri)
      if sorted(served) != sorted(classes):
        result = {MODEL: [], MODEL_BLESSING: []}
    return {**result, EXAMPLES: examples} if result is not None else None


def examples_upstream(store, artifact_id: int) -> Set[int]:
  """Ids of the Examples the artifact was made from, at any depth (a model:
  Transform's output, the embeddings, ExampleGen's clips), following Examples
  inputs only, so not through a warm start's base model."""
  examples_type = store.get_artifact_type(
      standard_artifacts.Examples.TYPE_NAME).id
  event = metadata_store_pb2.Event
  found: Set[int] = set()
  frontier = [artifact_id]
  while frontier:
    producers = {e.execution_id for e in store.get_events_by_artifact_ids(
        frontier) if e.type == event.OUTPUT}
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids(
        list(producers)) if e.type == event.INPUT} if producers else set()
    frontier = [a.id for a in store.get_artifacts_by_id(list(inputs))
                if a.type_id == examples_type and a.id not in found]
    found.update(frontier)
  return found


class WarmStartModelStrategy(SameClassesBlessedModelStrategy):
  """The model the Trainer's head starts from: the last blessed model of this
  run's classes that was not trained on this run's clips.

  A run that adds data starts from the model trained before it. A run on
  the same clips (a rerun, or one whose training settings changed) starts
  from fresh weights: its inputs stay those of the run that first trained on
  these clips, so with nothing new the Trainer is served from cache instead
  of training again from the model it pushed.
  """

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                       ) -> Optional[Dict[str, List[types.Artifact]]]:
    examples = input_dict.get(EXAMPLES) or []
    models = list(input_dict[MODEL])
    while True:
      result = super().resolve_artifacts(store, {**input_dict, MODEL: models})
      chosen = (result or {}).get(MODEL)
      if not (chosen and examples and examples[0].id in examples_upstream(
          store, chosen[0].id)):
        return result
      models = [model for model in models if model.id != chosen[0].id]
