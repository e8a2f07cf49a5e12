"""The pipeline's node ids, named once.

`create_pipeline` gives every node its id from here, and everything that
reads a run back (the run summary, the report, cross-validation) finds nodes
by these names, so renaming a node cannot silently empty a summary field;
tests/test_pipeline_definition.py checks that the pipeline has exactly these.
"""

EXAMPLE_GEN = 'Esc50ExampleGen'
CLIP_STATISTICS = 'clip_statistics'
CLIP_SCHEMA = 'clip_schema'
CLIP_VALIDATOR = 'clip_validator'
EMBEDDING_GEN = 'YamnetEmbeddingGen'
EMBEDDING_SCHEMA = 'embedding_schema'
EMBEDDING_STATISTICS = 'embedding_statistics'
EMBEDDING_VALIDATOR = 'embedding_validator'
VALIDATION_GATE = 'ValidationGate'
TRANSFORM = 'Transform'
TRAINER = 'Trainer'
# The model the Trainer's head starts from (pipeline/baseline.py).
WARM_START_RESOLVER = 'warm_start_model_resolver'
MODEL_RESOLVER = 'latest_blessed_model_resolver'
# The clip-level Evaluator whose blessing gates the push, and the patch-level
# one reported beside it.
EVALUATOR = 'Evaluator'
PATCH_EVALUATOR = 'patch_evaluator'
SERVING_VALIDATOR = 'ServingModelValidator'
PUSHER = 'Pusher'

# The order in which summaries and reports list them: the pipeline's order.
ORDER = (EXAMPLE_GEN, CLIP_SCHEMA, CLIP_STATISTICS, CLIP_VALIDATOR,
         EMBEDDING_GEN, EMBEDDING_SCHEMA, EMBEDDING_STATISTICS,
         EMBEDDING_VALIDATOR, VALIDATION_GATE, TRANSFORM, WARM_START_RESOLVER,
         TRAINER, MODEL_RESOLVER, EVALUATOR, PATCH_EVALUATOR,
         SERVING_VALIDATOR, PUSHER)


def order_key(node_id: str):
  """Sorts node ids in pipeline order; unknown ids last, by name."""
  return (ORDER.index(node_id) if node_id in ORDER else len(ORDER), node_id)
