"""Serving latency of the exported classifier, and whole-pipeline wall times.

    .venv/bin/python benchmarks/end_to_end.py [--json] [--only latency|pipeline]
        [--beam-arg ARG]...

latency: p50/p95 of one 5 s clip (batch 1, CPU, TF's default threads) through
  the classifier as the pipeline exports it (serving/classifier_module.py,
  here with a random 50-class head over ../shared/yamnet-savedmodel), against
  YAMNet alone, each through its serving_default signature and through its
  Python call; the head's overhead in %.
pipeline: the whole pipeline (pipeline.local_runner.run_local) on
  ../shared/esc50-mini with all 50 classes (train folds 2-4, eval 1, test 5:
  every class has training clips) in a temp dir, cold, then rerun unchanged;
  per-component seconds as MLMD recorded them.
Both need ../shared beside the repo root and skip with a message without it.
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

import machine


def measure_latency(work: str) -> Dict[str, Any]:
  """Classifier and YAMNet latency on the first esc50-mini clip."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  from data import audio  # pylint: disable=g-import-not-at-top
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from data import datasets  # pylint: disable=g-import-not-at-top
  from data import esc50_csv  # pylint: disable=g-import-not-at-top
  from serving import classifier_module  # pylint: disable=g-import-not-at-top

  handle = str(machine.SHARED_YAMNET)
  row = esc50_csv.read_esc50_csv(str(machine.SHARED_ESC50))[0]
  waveform = tf.constant(audio.read_waveform(
      datasets.audio_path(str(machine.SHARED_ESC50), row)))
  classes = list(esc50_classes.ESC50_CLASSES)
  head = machine.random_head(len(classes))
  export_dir = classifier_module.export_classifier(
      os.path.join(work, 'classifier'), loader.load_yamnet(handle), head,
      classes, yamnet_handle=handle)
  classifier = tf.saved_model.load(export_dir)
  yamnet = tf.saved_model.load(handle)
  serve_classifier = classifier.signatures['serving_default']
  serve_yamnet = yamnet.signatures['serving_default']
  figures = machine.time_alternating({
      'classifier serving_default': lambda: serve_classifier(audio=waveform),
      'YAMNet serving_default': lambda: serve_yamnet(waveform=waveform),
      'classifier(waveform)': lambda: classifier(waveform),
      'YAMNet(waveform)': lambda: yamnet(waveform),
  })
  pairs = {'serving_default': ('classifier serving_default',
                                'YAMNet serving_default'),
           'python call': ('classifier(waveform)', 'YAMNet(waveform)')}
  overhead = {
      f'overhead_{stat}_percent': {
          name: 100 * (figures[ours][f'{stat}_ms'] /
                       figures[theirs][f'{stat}_ms'] - 1)
          for name, (ours, theirs) in pairs.items()}
      for stat in ('p50', 'p95')}
  return {'clip': row.filename, 'samples': int(waveform.shape[0]),
          'calls': machine.TIMED_CALLS, 'latency': figures, **overhead}


def measure_pipeline(work: str, beam_args: List[str]) -> Dict[str, Any]:
  """Cold run, then a fully cached rerun, of the whole local pipeline."""
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  config = configs.PipelineConfig(
      data_root=str(machine.SHARED_ESC50),
      yamnet_handle=str(machine.SHARED_YAMNET),
      classes=list(esc50_classes.ESC50_CLASSES),
      # esc50-mini keeps each source recording in one fold, so some classes
      # (washing_machine: fold 4 only) are absent from folds 1-3; these
      # folds train every class.
      train_folds=(2, 3, 4), eval_folds=(1,), test_folds=(5,),
      output_dir=os.path.join(work, 'run'),
      beam_pipeline_args=tuple(beam_args))
  runs = {}
  for name in ('cold', 'cached'):
    start = time.time()
    # The Trainer's per-epoch lines go to stderr: stdout carries the report.
    with contextlib.redirect_stdout(sys.stderr):
      summary = local_runner.run_local(config).to_json()
    runs[name] = {'wall_seconds': time.time() - start,
                  'components': summary['components'],
                  'clips': summary['clips'],
                  'blessed': summary['blessed']}
  return {'beam_pipeline_args': beam_args, 'runs': runs}


def format_report(report: Dict[str, Any]) -> str:
  lines = [machine.format_machine(report['machine'])]
  if 'skipped' in report:
    return '\n'.join(lines + [f"Skipped: {report['skipped']}"])
  if 'latency' in report:
    latency = report['latency']
    lines += ['', f"Serving latency, one {latency['samples'] / 16000:.0f} s "
                  f"clip, batch 1, CPU ({latency['calls']} calls each):",
              f"   {'model':28s} {'p50 ms':>7s} {'p95 ms':>7s} {'mean ms':>7s}"]
    for name, f in latency['latency'].items():
      lines.append(f"   {name:28s} {f['p50_ms']:7.1f} {f['p95_ms']:7.1f} "
                   f"{f['mean_ms']:7.1f}")
    for stat in ('p50', 'p95'):
      lines.append(f'   classifier overhead over YAMNet ({stat}): ' + ', '.join(
          f'{k} {v:+.1f}%' for k, v in
          latency[f'overhead_{stat}_percent'].items()))
  if 'pipeline' in report:
    runs = report['pipeline']['runs']
    args = ' '.join(report['pipeline']['beam_pipeline_args']) or 'none'
    lines += ['', f'Whole pipeline on esc50-mini, 50 classes (Beam args: '
                  f'{args}):',
              f"   {'component':32s} {'cold s':>8s} {'cached s':>9s}  status"]
    for name, cold in runs['cold']['components'].items():
      cached = runs['cached']['components'].get(name, {})
      lines.append(f"   {name:32s} {cold['seconds']:8.1f} "
                   f"{cached.get('seconds', float('nan')):9.1f}  "
                   f"{cold['status']} / {cached.get('status', '-')}")
    lines.append(f"   {'whole run (wall)':32s} "
                 f"{runs['cold']['wall_seconds']:8.1f} "
                 f"{runs['cached']['wall_seconds']:9.1f}")
  return '\n'.join(lines)


def _measure_in_child(part: str, beam_args: List[str]) -> Dict[str, Any]:
  """One part in a fresh process: TF's thread pools are made once per
  process, and the pipeline's runner sets its own (docs/performance.md)."""
  stdout, _ = machine.run_child(
      [os.path.abspath(__file__), '--only', part, '--json'] +
      [f'--beam-arg={arg}' for arg in beam_args])
  return json.loads(stdout)[part]


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true',
                      help='print one JSON object instead of tables')
  parser.add_argument('--only', choices=('latency', 'pipeline'))
  parser.add_argument('--beam-arg', dest='beam_args', action='append',
                      default=[], metavar='ARG',
                      help='a beam_pipeline_arg of the pipeline runs '
                      '(repeatable), e.g. '
                      '--beam-arg=--direct_running_mode=multi_threading')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.WARNING)
  report: Dict[str, Any] = {'machine': machine.describe()}
  missing = machine.shared_inputs_missing()
  if missing:
    report['skipped'] = ('../shared beside the repo root is absent (missing '
                         f'{", ".join(missing)})')
  else:
    for part in ('latency', 'pipeline'):
      if args.only == part:
        with tempfile.TemporaryDirectory(
            prefix='end-to-end-benchmark-') as work:
          report[part] = (measure_latency(work) if part == 'latency' else
                          measure_pipeline(work, args.beam_args))
      elif args.only is None:
        report[part] = _measure_in_child(part, args.beam_args)
  print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == '__main__':
  main()
