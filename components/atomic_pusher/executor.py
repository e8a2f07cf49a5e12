"""Pusher executor that publishes a version with one rename.

TF Serving polls the model base directory and loads any new integer-named
folder it sees. TFX's Pusher copies file by file straight into <base>/<version>
(saved_model.pb last), so a poll during the copy, or a copy that dies midway,
leaves TF Serving a partial version. This executor copies into
<base>/.tmp-<version>-<id>, which TF Serving ignores (not an integer), and then
renames it to <base>/<version>: atomic on local and POSIX file systems. (On
object stores such as gs:// a rename is a copy; there it is only as safe as
TFX's order of copying.) Older versions are left alone; TF Serving's version
policy decides which it serves. A model identical to the newest version (same
SavedModel fingerprint, e.g. a rerun re-blessing the cached model) is not
published again, so TF Serving does not reload it.

Given clip Examples and test splits, the push also carries the classifier
for devices: serving/tflite_export.py converts the model to TFLite (float and
int8), checks each variant against the SavedModel on every test clip, and the
variants that pass go into the version's assets.extra/tflite/ with the class
names and the checks, so they appear with their SavedModel version. A variant
that fails its check is withheld (the reason is on the PushedModel as
`tflite`); the SavedModel is pushed all the same, as its own gates decided.
"""

import json
import os
import time
import uuid
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

from components import artifact_properties as properties
from components import examples_io
from serving import tflite_check
from serving import tflite_export

EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
# JSON list of the splits of EXAMPLES_KEY whose clips check the TFLite models.
TFLITE_SPLITS_KEY = 'tflite_splits'

STAGING_PREFIX = '.tmp-'
# Written by tf.saved_model.save: hashes of the graph, signatures, variables.
FINGERPRINT_FILE = 'fingerprint.pb'


def existing_versions(base_dir: str) -> List[int]:
  """Integer-named folders in base_dir: the versions TF Serving can see."""
  if not fileio.isdir(base_dir):
    return []
  return sorted(int(name.rstrip('/')) for name in fileio.listdir(base_dir)
                if name.rstrip('/').isdigit())


def next_version(base_dir: str) -> int:
  """The Unix time, or one more than the newest version if that is later.

  TF Serving serves the highest version, so a new push must sort above every
  existing one even if two pushes share a second or the clock went back.
  """
  return max([int(time.time())] + [v + 1 for v in existing_versions(base_dir)])


def _read(path: str) -> bytes:
  with fileio.open(path, 'rb') as f:
    return f.read()


def serving_version_of(model_dir: str, base_dir: str) -> Optional[int]:
  """The newest version if it holds the same SavedModel as model_dir."""
  versions = existing_versions(base_dir)
  if not versions:
    return None
  fingerprints = [os.path.join(d, FINGERPRINT_FILE) for d in (
      model_dir, os.path.join(base_dir, str(versions[-1])))]
  if all(fileio.exists(f) for f in fingerprints) and (
      _read(fingerprints[0]) == _read(fingerprints[1])):
    return versions[-1]
  return None


def publish_version(model_dir: str, base_dir: str, version: int) -> str:
  """Copies model_dir to <base_dir>/<version> via a staging folder and rename.

  Returns:
    The version folder.

  Raises:
    Whatever the copy or rename raised; the staging folder is removed first.
  """
  fileio.makedirs(base_dir)
  final_dir = os.path.join(base_dir, str(version))
  staging_dir = os.path.join(
      base_dir, f'{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}')
  try:
    io_utils.copy_dir(model_dir, staging_dir)
    fileio.rename(staging_dir, final_dir, overwrite=False)
  except BaseException:
    if fileio.exists(staging_dir):
      fileio.rmtree(staging_dir)
    raise
  return final_dir


def _record_tflite(model_push: types.Artifact,
                   checks: List[tflite_check.Check]) -> None:
  model_push.set_string_custom_property(properties.TFLITE,
                                        tflite_check.checks_json(checks))
  for c in checks:
    (logging.info if c.passed else logging.warning)(
        'TFLite %s model %s: %s', c.variant,
        'pushed' if c.passed else 'withheld', c.reason)


class Executor(pusher_executor.Executor):
  """TFX's Pusher executor with an atomic filesystem push."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    push_destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        push_destination)
    if push_destination.WhichOneof('destination') != 'filesystem':
      super().Do(input_dict, output_dict, exec_properties)
      return
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    filesystem = push_destination.filesystem
    if filesystem.versioning not in (pusher_pb2.Versioning.AUTO,
                                     pusher_pb2.Versioning.UNIX_TIMESTAMP):
      raise NotImplementedError(f'Invalid Versioning {filesystem.versioning}')
    model_dir = self.GetModelPath(input_dict)
    base_dir = filesystem.base_directory
    version = serving_version_of(model_dir, base_dir)
    if version is not None:
      serving_path = os.path.join(base_dir, str(version))
      logging.info('The model is already the newest version, %s.',
                   serving_path)
      # Archive what is served, its TFLite models included.
      io_utils.copy_dir(serving_path, model_push.uri)
    else:
      # The archive (TFX's Pusher keeps one too) is what gets published.
      io_utils.copy_dir(model_dir, model_push.uri)
      self._add_tflite(input_dict, exec_properties, model_dir, model_push.uri)
      version = next_version(base_dir)
      serving_path = publish_version(model_push.uri, base_dir, version)
      logging.info('Model version %d published at %s.', version, serving_path)
    _record_tflite(model_push, tflite_export.read_checks(
        os.path.join(model_push.uri, tflite_export.VERSION_SUBDIR)))
    self._MarkPushed(model_push, pushed_destination=serving_path,
                     pushed_version=str(version))

  def _add_tflite(self, input_dict: Dict[str, List[types.Artifact]],
                  exec_properties: Dict[str, Any], model_dir: str,
                  version_dir: str) -> None:
    """Puts the checked TFLite models into version_dir, given clips."""
    split_names = json.loads(exec_properties.get(TFLITE_SPLITS_KEY) or '[]')
    if not input_dict.get(EXAMPLES_KEY) or not split_names:
      return
    examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
    tflite_export.export_tflite(
        model_dir, os.path.join(version_dir, tflite_export.VERSION_SUBDIR),
        tflite_check.RECORDS, examples_io.split_files(examples, split_names))
