"""The YAMNet transfer-learning pipeline, as one pure function of its config.

ExampleGen (ESC-50 CSV + wavs) -> YAMNet embeddings (Beam) -> Transform ->
Trainer -> Evaluator (clip accuracy of the served computation, gated against
a threshold and the last blessed model; a patch-level Evaluator beside it) ->
ServingModelValidator (loads and runs the export as TF Serving would) ->
Pusher (atomic push in TF Serving's layout). Every orchestrator's runner calls
create_pipeline.
"""

import os
from typing import List, Optional, Sequence, Union

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.proto import transform_pb2

from components import splits
from components.atomic_pusher.component import AtomicPusher
from components.esc50_example_gen.component import Esc50ExampleGen
from components.model_validator.component import ServingModelValidator
from components.validation_gate.component import ValidationGate
from components.yamnet_embedding.component import YamnetEmbeddingGen
from models import features
from models import model as model_module
from serving import contract

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'schema', 'embeddings.pbtxt')
CLIP_SCHEMA_FILE = os.path.join(os.path.dirname(SCHEMA_FILE), 'clips.pbtxt')
# Clip-level features data validation checks (not the audio itself).
CLIP_FACTS = ('category', 'fold', 'target', 'source_sample_rate',
              'source_channels', 'duration_s', 'peak', 'rms_dbfs')
PREPROCESSING_FN = 'models.preprocessing.preprocessing_fn'
RUN_FN = 'models.model.run_fn'
ACCURACY_METRIC = 'sparse_categorical_accuracy'
CONFUSION_MATRIX_PLOT = 'multi_class_confusion_matrix_plot'


def _overall_gate(min_accuracy: float) -> tfma.PerSliceMetricThreshold:
  """At least min_accuracy and not below the last blessed model, overall only.

  Per-class slices are reported, not gated: a test fold holds a handful of
  clips per class, too few for a per-class bar.
  """
  return tfma.PerSliceMetricThreshold(
      slicing_specs=[tfma.SlicingSpec()],
      threshold=tfma.MetricThreshold(
          value_threshold=tfma.GenericValueThreshold(
              lower_bound={'value': min_accuracy}),
          change_threshold=tfma.GenericChangeThreshold(
              direction=tfma.MetricDirection.HIGHER_IS_BETTER,
              absolute={'value': -1e-10})))


def clip_eval_config(min_accuracy: float) -> tfma.EvalConfig:
  """What is served, judged per clip: the push gate.

  The model's clip_evaluation signature runs the served computation on each
  test clip; clip_label turns the clip's category into the model's class
  index. Accuracy and loss overall and per category, and the confusion
  matrix. A model is blessed when its clip accuracy on the test folds is at
  least `min_accuracy` and not lower than the last blessed model's.
  """
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=contract.CLIP_EVALUATION_SIGNATURE,
          preprocessing_function_names=[contract.CLIP_LABEL_SIGNATURE],
          label_key=contract.CLIP_LABEL,
          prediction_key='probabilities')],
      slicing_specs=[tfma.SlicingSpec(),
                     tfma.SlicingSpec(
                         feature_keys=[contract.CLIP_CLASS_FEATURE])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(class_name='SparseCategoricalCrossentropy',
                            config='{"name": "loss"}'),
          tfma.MetricConfig(class_name='SparseCategoricalAccuracy',
                            per_slice_thresholds=[_overall_gate(min_accuracy)]),
          tfma.MetricConfig(class_name='MultiClassConfusionMatrixPlot'),
      ])])


def patch_eval_config() -> tfma.EvalConfig:
  """The source recipe's view, per 0.96 s patch; reported, not gated."""
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=contract.EVALUATION_SIGNATURE,
          label_key=features.LABEL,
          prediction_key='probabilities')],
      slicing_specs=[tfma.SlicingSpec(),
                     tfma.SlicingSpec(feature_keys=[features.LABEL])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(class_name='SparseCategoricalCrossentropy',
                            config='{"name": "loss"}'),
          tfma.MetricConfig(class_name='SparseCategoricalAccuracy'),
      ])])


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: Union[str, tfx.dsl.experimental.RuntimeParameter],
    yamnet_handle: str,
    yamnet_fingerprint: str,
    classes: Union[Sequence[str], tfx.dsl.experimental.RuntimeParameter],
    serving_model_dir: str,
    train_folds: Sequence[int] = (1, 2, 3),
    eval_folds: Sequence[int] = (4,),
    test_folds: Sequence[int] = (5,),
    min_accuracy: float = 0.6,
    max_quarantine_fraction: float = 0.05,
    embedding_batch_size: int = 16,
    hyperparameters: Optional[dict] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    schema_file: str = SCHEMA_FILE,
    clip_schema_file: str = CLIP_SCHEMA_FILE,
) -> tfx.dsl.Pipeline:
  """Builds the pipeline; it reads nothing and has no side effects.

  data_root and classes may be str RuntimeParameters (classes as a JSON list)
  so that Kubeflow users set them per run. schema_file is where the schema is
  on the machine that runs ImportSchemaGen, e.g. inside the image.
  """
  train_splits = splits.fold_split_names(train_folds)
  eval_splits = splits.fold_split_names(eval_folds)
  test_splits = splits.fold_split_names(test_folds)
  overlap = (set(train_splits) & set(eval_splits) | set(train_splits) &
             set(test_splits) | set(eval_splits) & set(test_splits))
  if overlap:
    raise ValueError(f'train, eval and test folds overlap: {sorted(overlap)}')

  example_gen = Esc50ExampleGen(
      data_root=data_root, classes=classes,
      max_quarantine_fraction=max_quarantine_fraction)

  embedding_gen = YamnetEmbeddingGen(
      examples=example_gen.outputs['examples'],
      yamnet_handle=yamnet_handle,
      yamnet_fingerprint=yamnet_fingerprint,
      batch_size=embedding_batch_size)

  # Data validation: clip-level facts and embeddings against curated schemas;
  # the gate stops the run before Transform when either has an anomaly.
  clip_statistics = tfx.components.StatisticsGen(
      examples=example_gen.outputs['examples'],
      stats_options=tfdv.StatsOptions(feature_allowlist=list(CLIP_FACTS)),
  ).with_id('clip_statistics')
  clip_schema = tfx.components.ImportSchemaGen(
      schema_file=clip_schema_file).with_id('clip_schema')
  clip_validator = tfx.components.ExampleValidator(
      statistics=clip_statistics.outputs['statistics'],
      schema=clip_schema.outputs['schema']).with_id('clip_validator')

  schema_gen = tfx.components.ImportSchemaGen(
      schema_file=schema_file).with_id('embedding_schema')
  embedding_statistics = tfx.components.StatisticsGen(
      examples=embedding_gen.outputs['embeddings'],
  ).with_id('embedding_statistics')
  embedding_validator = tfx.components.ExampleValidator(
      statistics=embedding_statistics.outputs['statistics'],
      schema=schema_gen.outputs['schema']).with_id('embedding_validator')
  validation_gate = ValidationGate(
      schema=schema_gen.outputs['schema'],
      clip_anomalies=clip_validator.outputs['anomalies'],
      embedding_anomalies=embedding_validator.outputs['anomalies'])

  transform = tfx.components.Transform(
      examples=embedding_gen.outputs['embeddings'],
      schema=validation_gate.outputs['validated_schema'],
      preprocessing_fn=PREPROCESSING_FN,
      splits_config=transform_pb2.SplitsConfig(
          analyze=train_splits,
          transform=train_splits + eval_splits + test_splits))

  trainer = tfx.components.Trainer(
      run_fn=RUN_FN,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=validation_gate.outputs['validated_schema'],
      train_args=tfx.proto.TrainArgs(splits=train_splits),
      eval_args=tfx.proto.EvalArgs(splits=eval_splits),
      custom_config={model_module.YAMNET_HANDLE: yamnet_handle,
                     **(hyperparameters or {})})

  model_resolver = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(
          type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id('latest_blessed_model_resolver')

  # The gate: clip level, on ExampleGen's clips, against the last blessed.
  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=model_resolver.outputs['model'],
      example_splits=test_splits,
      eval_config=clip_eval_config(min_accuracy))
  patch_evaluator = tfx.components.Evaluator(
      examples=transform.outputs['transformed_examples'],
      model=trainer.outputs['model'],
      example_splits=test_splits,
      eval_config=patch_eval_config()).with_id('patch_evaluator')

  serving_validator = ServingModelValidator(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'])

  pusher = AtomicPusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      infra_blessing=serving_validator.outputs['blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=serving_model_dir))).with_id('Pusher')

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=[example_gen, clip_statistics, clip_schema, clip_validator,
                  embedding_gen, schema_gen, embedding_statistics,
                  embedding_validator, validation_gate, transform, trainer,
                  model_resolver, evaluator, patch_evaluator,
                  serving_validator, pusher],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args or [])
