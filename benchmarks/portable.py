"""Where the portable runner's extra time goes, component by component.

    .venv/bin/python benchmarks/portable.py [--json] [--clips-per-class-per-fold 3]
        [--yamnet HANDLE]

The demo pipeline (synthetic dog/cat clips, the stand-in YAMNet unless
--yamnet is given), cold, in its own output folder, three ways in one
process: Beam's DirectRunner; the portable runner against Beam's local job
service and worker pool with the arguments pipeline/portable_runner.py gives
(`--setup_file` naming this project, so TFX does not package itself); and
the same without `--setup_file`, where TFX copies and packages itself for
the workers at every Beam component. Seconds per component as MLMD recorded
them.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

import machine

VARIANTS = ('direct', 'portable', 'portable_tfx_packaged')


def _run(config, beam_args: List[str]) -> Dict[str, Any]:
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  config = dataclasses.replace(config, beam_pipeline_args=tuple(beam_args))
  start = time.time()
  with contextlib.redirect_stdout(sys.stderr):
    summary = local_runner.run_local(config).to_json()
  return {'wall_s': time.time() - start, 'status': summary['status'],
          'components': {name: c['seconds'] for name, c in
                         summary['components'].items()}}


def measure(work: str, clips_per_class_per_fold: int,
            yamnet: str) -> Dict[str, Any]:
  from models import hyperparameters  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import demo  # pylint: disable=g-import-not-at-top
  from pipeline import portable_runner  # pylint: disable=g-import-not-at-top
  runs = {}
  for variant in VARIANTS:
    output = os.path.join(work, variant)
    data_root, standin = demo.prepare_demo_inputs(
        output, ['dog', 'cat'], clips_per_class_per_fold, seed=0)
    config = configs.PipelineConfig(
        data_root=data_root, yamnet_handle=yamnet or standin,
        classes=['dog', 'cat'], output_dir=output,
        hyperparameters=hyperparameters.Hyperparameters(epochs=5))
    if variant == 'direct':
      runs[variant] = _run(config, [])
      continue
    logs = os.path.join(work, f'{variant}-services')
    os.makedirs(logs)
    with portable_runner.local_services(logs) as beam_args:
      if variant == 'portable_tfx_packaged':
        beam_args = [a for a in beam_args if not a.startswith('--setup_file')]
      runs[variant] = _run(config, beam_args)
  return {'clips_per_class_per_fold': clips_per_class_per_fold,
          'yamnet': yamnet or 'stand-in', 'runs': runs}


def format_report(report: Dict[str, Any]) -> str:
  runs = report['runs']
  names = sorted(set().union(*(r['components'] for r in runs.values())),
                 key=lambda n: -runs['direct']['components'].get(n, 0))
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}; "
           f"{report['clips_per_class_per_fold']} clips per class and fold",
           '', f"{'component':30}" + ''.join(f'{v:>22}' for v in VARIANTS)]
  for name in names:
    lines.append(f'{name:30}' + ''.join(
        f"{runs[v]['components'].get(name, 0):22.1f}" for v in VARIANTS))
  lines.append(f"{'whole run, wall':30}" + ''.join(
      f"{runs[v]['wall_s']:22.1f}" for v in VARIANTS))
  return '\n'.join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--clips-per-class-per-fold', type=int, default=3)
  parser.add_argument('--yamnet', default='')
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as work:
    report = {'machine': machine.describe(),
              **measure(work, args.clips_per_class_per_fold, args.yamnet)}
  print(json.dumps(report, indent=2) if args.json else format_report(report))
  return 0


if __name__ == '__main__':
  sys.exit(main())
