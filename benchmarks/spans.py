"""Growing data: the run that adds a span against a cold run on every span.

    .venv/bin/python benchmarks/spans.py [--json] [--spans N]
        [--clips-per-span C] [--classes K] [--yamnet HANDLE]

Writes N spans of synthetic clips in the class-folder layout (5 s, 44.1 kHz,
K classes, C clips per span), then times, in separate output folders:
  incremental: after a run on spans 1..N-1, the run once span N arrives
    (it embeds span N only and copies the others' records);
  cold: one run on all N spans in an empty output folder.
Prints both runs' wall seconds and each component's seconds side by side,
the ratio incremental / cold, and the clips each run embedded. YAMNet:
--yamnet, else ../shared/yamnet-savedmodel when present, else the project's
stand-in (named in the report).
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict

import machine


def _write_spans(root: str, spans: int, clips_per_span: int,
                 classes: int) -> str:
  from data import synthetic  # pylint: disable=g-import-not-at-top
  names = [f'class-{i:02d}' for i in range(classes)]
  sources = max(1, clips_per_span // (classes * 2))
  for span in range(1, spans + 1):
    synthetic.write_synthetic_folders(
        os.path.join(root, f'week-{span}'), names, sources_per_class=sources,
        takes=2, formats=('wav',), seed=span, sample_rate=44100,
        duration_s=5.0)
  return os.path.join(root, 'week-{SPAN}')


def _timed_run(config) -> Dict[str, Any]:
  from pipeline import evaluation_results  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  start = time.time()
  # The Trainer's per-epoch lines go to stderr: stdout carries the report.
  with contextlib.redirect_stdout(sys.stderr):
    summary = local_runner.run_local(config).to_json()
  return {'wall_seconds': time.time() - start,
          'components': summary['components'], 'clips': summary['clips'],
          'spans': summary['spans'], 'blessed': summary['blessed'],
          'test_clip_accuracy': summary['metrics'].get(
              evaluation_results.ACCURACY)}


def run(work: str, spans: int, clips_per_span: int, classes: int,
        yamnet: str) -> Dict[str, Any]:
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  data = os.path.join(work, 'data')
  pattern = _write_spans(data, spans, clips_per_span, classes)
  last = os.path.join(data, f'week-{spans}')
  os.rename(last, last + '.later')
  config = configs.PipelineConfig(
      data_root=pattern, yamnet_handle=yamnet, classes=('all',),
      output_dir=os.path.join(work, 'incremental'))
  _timed_run(config)
  os.rename(last + '.later', last)
  incremental = _timed_run(config)
  cold = _timed_run(configs.PipelineConfig(
      data_root=pattern, yamnet_handle=yamnet, classes=('all',),
      output_dir=os.path.join(work, 'cold')))
  return {
      'machine': machine.describe(), 'yamnet': yamnet, 'spans': spans,
      'clips_per_span': clips_per_span, 'classes': classes,
      'incremental': incremental, 'cold': cold,
      'ratio_incremental_to_cold': (incremental['wall_seconds'] /
                                    cold['wall_seconds']),
  }


def format_report(report: Dict[str, Any]) -> str:
  incremental, cold = report['incremental'], report['cold']
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}; {report['spans']} spans of "
           f"{report['clips_per_span']} clips, {report['classes']} classes",
           '', '| component | cold s | incremental s |', '|---|---|---|']
  for name, facts in cold['components'].items():
    other = incremental['components'].get(name, {})
    lines.append(f"| {name} | {facts['seconds']:.1f} | "
                 f"{other.get('seconds', 0):.1f} ({other.get('status')}) |")
  lines += [
      f"| whole run (wall) | {cold['wall_seconds']:.1f} | "
      f"{incremental['wall_seconds']:.1f} |", '',
      f"Incremental / cold wall time: "
      f"{report['ratio_incremental_to_cold']:.2f}",
      f"Clips embedded: cold {cold['clips']['embedded']}, incremental "
      f"{incremental['clips']['embedded']} (reused "
      f"{incremental['clips']['reused']}); spans embedded by the incremental "
      f"run: {incremental['spans']['embedded']}",
      f"Gate (test-fold clip accuracy): cold "
      f"{cold['test_clip_accuracy']:.3f}, incremental "
      f"{incremental['test_clip_accuracy']:.3f} (blessed: cold "
      f"{cold['blessed']}, incremental {incremental['blessed']})"]
  return '\n'.join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--spans', type=int, default=10)
  parser.add_argument('--clips-per-span', type=int, default=200)
  parser.add_argument('--classes', type=int, default=10)
  parser.add_argument('--yamnet', help='YAMNet handle (default: ../shared '
                      "one, else the stand-in)")
  args = parser.parse_args(argv)
  if args.spans < 2 or args.classes < 2:
    parser.error('--spans and --classes must be at least 2')
  with tempfile.TemporaryDirectory(prefix='spans-benchmark-') as work:
    yamnet = args.yamnet
    if not yamnet and (machine.SHARED_YAMNET / 'saved_model.pb').exists():
      yamnet = str(machine.SHARED_YAMNET)
    if not yamnet:
      from yamnet import standin  # pylint: disable=g-import-not-at-top
      yamnet = standin.build_standin_yamnet(os.path.join(work, 'yamnet'))
    report = run(work, args.spans, args.clips_per_span, args.classes, yamnet)
  print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == '__main__':
  main()
