"""Reading the Evaluators' TFMA output: metrics, confusion matrix, failures.

Small TFMA records written here stand in for an Evaluator's output, so each
reading rule is checked on known values; the pipeline tests check the same
functions on real Evaluator output.
"""

from google.protobuf import text_format
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import evaluation_results


def _write(path, name, messages):
  with tf.io.TFRecordWriter(str(path / f'{name}.tfrecord')) as writer:
    for message in messages:
      writer.write(message.SerializeToString())


def test_per_class_metrics_of_a_known_matrix():
  matrix = np.array([[3, 1, 0], [0, 2, 0], [1, 0, 0]])
  metrics = evaluation_results.per_class_metrics(matrix, ['a', 'b', 'c'])
  assert metrics['clips'] == 7
  assert metrics['accuracy'] == pytest.approx(5 / 7)
  assert metrics['per_class']['a'] == pytest.approx(
      {'precision': 0.75, 'recall': 0.75, 'f1': 0.75, 'support': 4})
  assert metrics['per_class']['b']['precision'] == pytest.approx(2 / 3)
  assert metrics['per_class']['c'] == {'precision': None, 'recall': 0.0,
                                       'f1': 0.0, 'support': 1}


def test_metrics_by_slice_keep_the_candidate_model_only(tmp_path):
  _write(tmp_path, 'metrics', [text_format.Parse(text, (
      metrics_for_slice_pb2.MetricsForSlice())) for text in ("""
      slice_key {}
      metric_keys_and_values {
        key { name: "sparse_categorical_accuracy" model_name: "candidate" }
        value { double_value { value: 0.9 } } }
      metric_keys_and_values {
        key { name: "sparse_categorical_accuracy" model_name: "baseline" }
        value { double_value { value: 0.8 } } }
      metric_keys_and_values {
        key { name: "sparse_categorical_accuracy" model_name: "candidate"
              is_diff: true }
        value { double_value { value: 0.1 } } }""", """
      slice_key { single_slice_keys { column: "category" bytes_value: "cat" } }
      metric_keys_and_values {
        key { name: "sparse_categorical_accuracy" model_name: "candidate" }
        value { double_value { value: 0.75 } } }""")])
  assert evaluation_results.metrics_by_slice(str(tmp_path)) == {
      'overall': {'sparse_categorical_accuracy': 0.9},
      'category = cat': {'sparse_categorical_accuracy': 0.75}}
  assert evaluation_results.has_baseline(str(tmp_path))
  _write(tmp_path, 'validations', [
      validation_result_pb2.ValidationResult(validation_ok=True)])
  assert evaluation_results.gate_reason(str(tmp_path)) == (
      "clip accuracy met the threshold and did not fall below the last "
      "blessed model's")


def test_confusion_matrix_from_the_overall_plot(tmp_path):
  _write(tmp_path, 'plots', [text_format.Parse(text, (
      metrics_for_slice_pb2.PlotsForSlice())) for text in ("""
      slice_key { single_slice_keys { column: "category" bytes_value: "dog" } }
      plot_keys_and_values {
        key { name: "multi_class_confusion_matrix_plot" }
        value { multi_class_confusion_matrix_at_thresholds { matrices {
          entries { actual_class_id: 0 predicted_class_id: 0
                    num_weighted_examples: 9 } } } } }""", """
      slice_key {}
      plot_keys_and_values {
        key { name: "multi_class_confusion_matrix_plot" model_name: "baseline" }
        value { multi_class_confusion_matrix_at_thresholds { matrices {
          entries { actual_class_id: 1 predicted_class_id: 1
                    num_weighted_examples: 7 } } } } }
      plot_keys_and_values {
        key { name: "multi_class_confusion_matrix_plot" model_name: "candidate" }
        value { multi_class_confusion_matrix_at_thresholds { matrices {
          entries { actual_class_id: 0 predicted_class_id: 0
                    num_weighted_examples: 3 }
          entries { actual_class_id: 1 predicted_class_id: 0
                    num_weighted_examples: 2 }
          entries { predicted_class_id: 1 num_weighted_examples: 1 }
        } } } }""")])
  matrix = evaluation_results.confusion_matrix(str(tmp_path), 2)
  np.testing.assert_array_equal(matrix, [[3, 1], [2, 0]])


def _validation(tmp_path, text):
  _write(tmp_path, 'validations', [text_format.Parse(
      text, validation_result_pb2.ValidationResult())])
  return evaluation_results.gate_failures(str(tmp_path))


def test_gate_failures_say_slice_value_and_what_was_required(tmp_path):
  failures = _validation(tmp_path, """
      validation_ok: false
      metric_validations_per_slice {
        slice_key {}
        failures {
          metric_key { name: "sparse_categorical_accuracy" }
          metric_threshold { value_threshold { lower_bound { value: 0.6 } } }
          metric_value { double_value { value: 0.45 } } }
        failures {
          metric_key { name: "sparse_categorical_accuracy" is_diff: true }
          metric_threshold { change_threshold {
            direction: HIGHER_IS_BETTER absolute { value: -1e-10 } } }
          metric_value { double_value { value: -0.125 } } }
      }
      metric_validations_per_slice {
        slice_key { single_slice_keys { column: "category" bytes_value: "cat" } }
        failures {
          metric_key { name: "loss" }
          metric_threshold { value_threshold { upper_bound { value: 2 } } }
          metric_value { double_value { value: 2.5 } } }
      }""")
  assert failures == [
      'clip accuracy is 0.4500; required: at least 0.6',
      'clip accuracy changed by -0.1250 against the last blessed model; '
      'required: no decrease (absolute bound -1e-10)',
      'clip loss on category = cat is 2.5000; required: at most 2']


def test_a_failed_validation_without_checks_still_says_so(tmp_path):
  assert _validation(tmp_path, 'validation_ok: false') == [
      'TFMA validation failed without naming a check']
  assert _validation(tmp_path, """
      validation_ok: false
      missing_slices { feature_keys: "category" }""") == [
          "no test examples in the slice of ['category']"]


def test_a_passed_validation_has_no_failures(tmp_path):
  assert _validation(tmp_path, 'validation_ok: true') == []
