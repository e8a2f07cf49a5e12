"""The gate's baseline: the last blessed model, if it knows this run's classes.

A model trained before a class first appeared cannot be evaluated on clips of
that class (its clip_label signature has no index for it), so comparing with
it would fail the Evaluator. When the classes differ, the gate compares with
no baseline and applies its accuracy threshold alone.

Kubeflow Pipelines V2 compiles only TFX's own resolver strategies, so a
Kubeflow deployment uses LatestBlessedModelStrategy (pipeline.py).
"""

import json
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy

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
