"""The Evaluators' TFMA configurations: the clip-level push gate and the
patch-level view reported beside it."""

import tensorflow_model_analysis as tfma

from data import clip_examples
from serving import contract
from yamnet import patch_examples


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
                         feature_keys=[clip_examples.CATEGORY])],
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
          label_key=patch_examples.LABEL,
          prediction_key='probabilities')],
      slicing_specs=[tfma.SlicingSpec(),
                     tfma.SlicingSpec(feature_keys=[patch_examples.LABEL])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(class_name='SparseCategoricalCrossentropy',
                            config='{"name": "loss"}'),
          tfma.MetricConfig(class_name='SparseCategoricalAccuracy'),
      ])])
