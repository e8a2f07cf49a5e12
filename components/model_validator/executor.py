"""Executor of ServingModelValidator: runs servable_check.py in a fresh process.

The verdict goes on an InfraBlessing, which the Pusher requires, so a model
that fails is never pushed; why is recorded on the artifact (custom property
`reason`), in servable_check.json beside it, and in the log.
"""

import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import path_utils

from components import artifact_properties as properties
from serving import child_process

MODEL_KEY = standard_component_specs.MODEL_KEY
MODEL_BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
BLESSING_KEY = standard_component_specs.BLESSING_KEY
TIMEOUT_KEY = 'timeout_seconds'
DEFAULT_TIMEOUT_SECONDS = 600

# Custom properties of the output InfraBlessing (Pusher reads `blessed`).
BLESSED = properties.BLESSED
REASON = properties.REASON
REPORT_FILE = 'servable_check.json'
# Marker files, as TFX's InfraValidator writes them.
_BLESSED_FILE = 'INFRA_BLESSED'
_NOT_BLESSED_FILE = 'INFRA_NOT_BLESSED'

_CHECK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             'servable_check.py')


def run_servable_check(model_dir: str, timeout_seconds: int) -> Dict[str, Any]:
  """Runs servable_check.py on model_dir in a new Python process.

  Returns its report; a crash, a timeout or no report is a failed report
  quoting the end of stderr.
  """
  report, failure = child_process.run_json_report(
      [_CHECK_SCRIPT, model_dir], timeout_seconds)
  if report is None:
    return {'ok': False, 'checks': [], 'failures': [failure]}
  return report


def _record(blessing: types.Artifact, blessed: bool, reason: str,
            report: Dict[str, Any]) -> None:
  blessing.set_int_custom_property(BLESSED, int(blessed))
  blessing.set_string_custom_property(REASON, reason)
  io_utils.write_string_file(os.path.join(blessing.uri, REPORT_FILE),
                             json.dumps(report, indent=2))
  io_utils.write_string_file(os.path.join(
      blessing.uri, _BLESSED_FILE if blessed else _NOT_BLESSED_FILE), '')
  (logging.info if blessed else logging.warning)(
      'Serving check %s: %s', 'passed' if blessed else 'failed', reason)


class Executor(base_executor.BaseExecutor):
  """Blesses the model only if it loads and serves as TF Serving runs it."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
    blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
    model_blessings = input_dict.get(MODEL_BLESSING_KEY)
    if model_blessings and not model_utils.is_model_blessed(
        artifact_utils.get_single_instance(model_blessings)):
      _record(blessing, False, 'not checked: the Evaluator did not bless the '
              'model', {'ok': False, 'checks': [], 'failures': []})
      return
    model_dir = path_utils.serving_model_path(
        model.uri, path_utils.is_old_model_artifact(model))
    report = run_servable_check(
        model_dir, int(exec_properties.get(TIMEOUT_KEY) or
                       DEFAULT_TIMEOUT_SECONDS))
    if report['ok']:
      reason = (f'{len(report["checks"])} checks passed: loads with tag serve, '
                'both signatures serve canonical inputs, warm-up replays')
    else:
      reason = '; '.join(report['failures'])
    _record(blessing, report['ok'], reason, report)
