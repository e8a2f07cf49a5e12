"""Executor of ValidationGate: raise on any anomaly, else pass the schema on."""

import os
from typing import Any, Dict, List

from tensorflow_data_validation.utils import anomalies_util
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

SCHEMA_KEY = 'schema'
ANOMALIES_KEYS = ('clip_anomalies', 'embedding_anomalies')
VALIDATED_SCHEMA_KEY = 'validated_schema'
# ExampleValidator writes one Anomalies proto per split under this name.
ANOMALIES_FILE = 'SchemaDiff.pb'


class DataValidationError(RuntimeError):
  """ExampleValidator found anomalies; training on this data is refused."""


def describe_anomalies(anomalies_artifact: types.Artifact,
                       source: str) -> List[str]:
  """One line per anomaly: which data, split and feature, and what is wrong."""
  lines = []
  for split in artifact_utils.decode_split_names(
      anomalies_artifact.split_names):
    anomalies = anomalies_util.load_anomalies_binary(os.path.join(
        artifact_utils.get_split_uri([anomalies_artifact], split),
        ANOMALIES_FILE))
    for feature, info in sorted(anomalies.anomaly_info.items()):
      lines.append(f'{source} {split}: feature {feature!r}: '
                   f'{info.short_description} ({info.description})')
    if anomalies.HasField('dataset_anomaly_info'):
      info = anomalies.dataset_anomaly_info
      lines.append(f'{source} {split}: dataset: {info.short_description} '
                   f'({info.description})')
  return lines


class Executor(base_executor.BaseExecutor):
  """Fails with every anomaly named, or copies the schema to its output."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    del exec_properties
    problems = []
    for key in ANOMALIES_KEYS:
      problems += describe_anomalies(
          artifact_utils.get_single_instance(input_dict[key]),
          key.replace('_anomalies', 's'))
    if problems:
      raise DataValidationError(
          f'data validation found {len(problems)} anomal'
          f'{"y" if len(problems) == 1 else "ies"}; fix the data (or the '
          'curated schema in pipeline/schema/ if the data is right):\n  ' +
          '\n  '.join(problems))
    io_utils.copy_dir(
        artifact_utils.get_single_uri(input_dict[SCHEMA_KEY]),
        artifact_utils.get_single_uri(output_dict[VALIDATED_SCHEMA_KEY]))
