"""Checks that run in a fresh Python process and report one JSON line.

A model under test can take its process down (TFLite's interpreter may
crash on a corrupted flatbuffer) or pass only because of something the
parent process had imported or registered. Run in a child, either becomes a
failed check with a reason, never a dead or fooled pipeline component.
"""

import json
import os
import subprocess
import sys
from typing import Any, Optional, Sequence, Tuple

# The project root (serving/..), so the child imports this checkout's code.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDERR_TAIL = 2000


def run_json_report(args: Sequence[str], timeout_seconds: float
                   ) -> Tuple[Optional[Any], str]:
  """Runs `python ARGS...`; returns (the JSON of its last stdout line, '')
  or (None, why the child gave no report, quoting the end of its stderr)."""
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (PROJECT_ROOT, env.get('PYTHONPATH')) if p)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  try:
    done = subprocess.run([sys.executable, *args], env=env,
                          capture_output=True, text=True,
                          timeout=timeout_seconds, check=False)
  except subprocess.TimeoutExpired:
    return None, f'the check did not finish within {timeout_seconds} s'
  lines = done.stdout.strip().splitlines()
  if done.returncode == 0 and lines:
    try:
      return json.loads(lines[-1]), ''
    except ValueError:
      pass
  how = (f'was killed by signal {-done.returncode}' if done.returncode < 0
         else f'exited with code {done.returncode}')
  return None, (f'the check process {how} without a report: '
                f'{done.stderr[-_STDERR_TAIL:].strip()}')
