"""What the Evaluators recorded, read back from their TFMA output.

Shared by the run summary and the HTML report, so both show the numbers the
gate used: metrics per slice, the clip-level confusion matrix, and each
check that failed, said in words (TFMA leaves its failure messages empty).
"""

from typing import Any, Dict, List, Optional, Sequence

import os

import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx.utils import path_utils

from data import record_files
from serving import contract

# Names TFX gives the two models of an evaluation against a baseline.
_BASELINE = 'baseline'
# The gate's accuracy metric, as TFMA names it in the evaluation.
ACCURACY = 'sparse_categorical_accuracy'
_METRIC_WORDS = {ACCURACY: 'accuracy', 'loss': 'loss',
                 'example_count': 'examples'}


def model_class_names(model_uri: str) -> List[str]:
  """Class names of a Trainer model, in the index order of its outputs."""
  path = os.path.join(path_utils.serving_model_path(model_uri), 'assets',
                      contract.LABELS_ASSET)
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()


def slice_name(slice_key) -> str:
  """'overall' or 'column = value, ...' of a TFMA SliceKey proto."""
  parts = []
  for key in slice_key.single_slice_keys:
    value = getattr(key, key.WhichOneof('kind'))
    parts.append(f'{key.column} = {record_files.decode(value)}')
  return ', '.join(parts) or 'overall'


def metrics_by_slice(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
  """{slice name: {metric: value}} of the evaluated (not baseline) model."""
  result: Dict[str, Dict[str, float]] = {}
  for metrics in tfma.load_metrics(evaluation_uri):
    values = result.setdefault(slice_name(metrics.slice_key), {})
    for entry in metrics.metric_keys_and_values:
      key = entry.key
      if (key.model_name == _BASELINE or key.is_diff or key.HasField('sub_key')
          or not entry.value.HasField('double_value')):
        continue
      values[key.name] = entry.value.double_value.value
  return result


def confusion_matrix(evaluation_uri: str,
                     num_classes: int) -> Optional[np.ndarray]:
  """[actual, predicted] clip counts over all test clips, or None if absent.

  From MultiClassConfusionMatrixPlot at threshold 0: predicted is the argmax.
  """
  for plots in tfma.load_plots(evaluation_uri):
    if plots.slice_key.single_slice_keys:
      continue
    for entry in plots.plot_keys_and_values:
      if (entry.key.model_name == _BASELINE or not
          entry.value.HasField('multi_class_confusion_matrix_at_thresholds')):
        continue
      matrix = np.zeros((num_classes, num_classes), np.int64)
      at_zero = entry.value.multi_class_confusion_matrix_at_thresholds.matrices
      for cell in at_zero[0].entries:
        if cell.actual_class_id < 0 or cell.predicted_class_id < 0:
          raise ValueError(f'confusion matrix cell outside the {num_classes} '
                           f'classes: {cell}')
        matrix[cell.actual_class_id, cell.predicted_class_id] += int(
            round(cell.num_weighted_examples))
      return matrix
  return None


def per_class_metrics(matrix: np.ndarray, classes: Sequence[str]
                     ) -> Dict[str, Any]:
  """Accuracy, and precision/recall/F1/support per class (None if 0/0)."""
  per_class = {}
  for index, name in enumerate(classes):
    true_positive = float(matrix[index, index])
    predicted, actual = matrix[:, index].sum(), matrix[index].sum()
    precision = true_positive / predicted if predicted else None
    recall = true_positive / actual if actual else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision and recall else (0.0 if actual else None))
    per_class[name] = {'precision': precision, 'recall': recall, 'f1': f1,
                       'support': int(actual)}
  total = matrix.sum()
  return {'clips': int(total),
          'accuracy': float(np.trace(matrix) / total) if total else None,
          'per_class': per_class}


def describe_failure(failure, slice_text: str, unit: str) -> str:
  """One failed TFMA check in words: metric, slice, value and what was due."""
  name = _METRIC_WORDS.get(failure.metric_key.name, failure.metric_key.name)
  value = failure.metric_value.double_value.value
  threshold = failure.metric_threshold
  where = '' if slice_text == 'overall' else f' on {slice_text}'
  if failure.metric_key.is_diff:
    change = threshold.change_threshold
    return (f'{unit} {name}{where} changed by {value:+.4f} against the last '
            'blessed model; required: '
            f'{"no decrease" if change.absolute.value <= 0 else "an increase"}'
            f' (absolute bound {change.absolute.value:g})')
  bounds = threshold.value_threshold
  required = []
  if bounds.HasField('lower_bound'):
    required.append(f'at least {bounds.lower_bound.value:g}')
  if bounds.HasField('upper_bound'):
    required.append(f'at most {bounds.upper_bound.value:g}')
  return (f'{unit} {name}{where} is {value:.4f}; required: '
          f'{" and ".join(required)}')


def has_baseline(evaluation_uri: str) -> bool:
  """Whether the evaluation compared the model with a blessed baseline."""
  return any(entry.key.model_name == _BASELINE
             for metrics in tfma.load_metrics(evaluation_uri)
             for entry in metrics.metric_keys_and_values)


def gate_reason(evaluation_uri: str) -> str:
  """Why the gate blessed the model or not, in one line."""
  failures = gate_failures(evaluation_uri)
  if failures:
    return '; '.join(failures)
  if has_baseline(evaluation_uri):
    return ('clip accuracy met the threshold and did not fall below the last '
            'blessed model\'s')
  return ('clip accuracy met the threshold; no earlier blessed model to '
          'compare with')


def gate_failures(evaluation_uri: str, unit: str = 'clip') -> List[str]:
  """Every check the gating Evaluator failed, in words; [] if all passed."""
  result = tfma.load_validation_result(evaluation_uri)
  failures = []
  for per_slice in result.metric_validations_per_slice:
    for failure in per_slice.failures:
      failures.append(describe_failure(failure,
                                       slice_name(per_slice.slice_key), unit))
  if result.missing_thresholds:
    failures.append('a metric that a threshold checks was not computed')
  failures.extend(
      f'no test examples in the slice of {list(spec.feature_keys) or "all"}'
      for spec in result.missing_slices)
  if not result.validation_ok and not failures:
    failures.append('TFMA validation failed without naming a check')
  return failures
