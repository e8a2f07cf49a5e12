"""ValidationGate stops the run on anomalies against the curated schemas."""

import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.utils import io_utils
from tfx.utils import writer_utils

from components.validation_gate import executor
from pipeline import pipeline as pipeline_def


def _clip_facts(sample_rate=44100, peak=0.5):
  return pd.DataFrame({
      'category': ['dog', 'cat'], 'fold': [1, 1], 'target': [0, 5],
      'source_sample_rate': [sample_rate, 44100], 'source_channels': [1, 2],
      'duration_s': [5.0, 5.0], 'peak': [peak, 0.3],
      'rms_dbfs': [-20.0, -30.0]})


def _anomalies_artifact(tmp_path, name, frame, schema_file):
  """An ExampleAnomalies artifact as ExampleValidator writes it (one split)."""
  anomalies = tfdv.validate_statistics(
      tfdv.generate_statistics_from_dataframe(frame),
      tfdv.load_schema_text(schema_file))
  artifact = standard_artifacts.ExampleAnomalies()
  artifact.uri = str(tmp_path / name)
  artifact.split_names = artifact_utils.encode_split_names(['fold1'])
  writer_utils.write_anomalies(
      os.path.join(artifact_utils.get_split_uri([artifact], 'fold1'),
                   executor.ANOMALIES_FILE), anomalies)
  return artifact


def _embedding_rows():
  return pd.DataFrame({'label': ['dog'], 'target': [0], 'fold': [1],
                       'clip_id': ['1-1-A-0'], 'patch_index': [0],
                       'num_patches': [1]})


def _run_gate(tmp_path, clip_frame):
  schema = standard_artifacts.Schema()
  schema.uri = str(tmp_path / 'schema')
  io_utils.copy_file(
      os.path.join(pipeline_def.SCHEMA_DIR, pipeline_def.EMBEDDING_SCHEMA),
      os.path.join(schema.uri, 'schema.pbtxt'))
  validated = standard_artifacts.Schema()
  validated.uri = str(tmp_path / 'validated')
  clip_anomalies = _anomalies_artifact(
      tmp_path, 'clips', clip_frame,
      os.path.join(pipeline_def.SCHEMA_DIR, pipeline_def.CLIP_SCHEMA))
  # Embedding statistics without the embedding feature are not what this test
  # is about, so validate them against a schema of the columns present.
  embedding_frame = _embedding_rows()
  schema_of_frame = tfdv.infer_schema(
      tfdv.generate_statistics_from_dataframe(embedding_frame))
  schema_file = str(tmp_path / 'frame_schema.pbtxt')
  tfdv.write_schema_text(schema_of_frame, schema_file)
  embedding_anomalies = _anomalies_artifact(tmp_path, 'embeddings',
                                            embedding_frame, schema_file)
  executor.Executor().Do(
      {'schema': [schema], 'clip_anomalies': [clip_anomalies],
       'embedding_anomalies': [embedding_anomalies]},
      {'validated_schema': [validated]}, {})
  return validated


def test_clean_data_passes_the_schema_on(tmp_path):
  validated = _run_gate(tmp_path, _clip_facts())
  assert os.path.exists(os.path.join(validated.uri, 'schema.pbtxt'))


@pytest.mark.parametrize('frame, feature', [
    (_clip_facts(sample_rate=4000), 'source_sample_rate'),
    (_clip_facts(peak=1.5), 'peak'),
])
def test_anomaly_stops_the_run_naming_the_feature(tmp_path, frame, feature):
  with pytest.raises(executor.DataValidationError,
                     match=f"clips fold1: feature '{feature}'"):
    _run_gate(tmp_path, frame)
  assert not os.path.exists(tmp_path / 'validated' / 'schema.pbtxt')
