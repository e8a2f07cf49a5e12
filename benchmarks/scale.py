"""How cost grows with data: the whole pipeline, cold, at two or more sizes.

    .venv/bin/python benchmarks/scale.py [--json] [--clips 2000,20000]
        [--clip-seconds 1] [--classes 50] [--epochs N] [--yamnet HANDLE]
        [--work DIR]

Data. For each size N, a synthetic dataset in ESC-50's own layout
(meta/esc50.csv + audio/, written by data/synthetic.write_synthetic_esc50):
the first --classes ESC-50 classes (50: all of them), ESC-50's five folds,
N / (classes x 5) clips per class and fold, every clip --clip-seconds long
(1 s by default), 44.1 kHz mono 16-bit WAV as ESC-50's. So 2,000 clips are
8 per class and fold, exactly ESC-50's shape, and 20,000 are 80. (The
issue's "10 and 100 per class and fold" would need four folds; five keep
ESC-50's layout and the pipeline's default folds: train 1-3, eval 4, test
5.) N must be a multiple of classes x 5. Clips are 1 s rather than ESC-50's
5 s (two YAMNet patches each instead of ten) so that a 20,000-clip cold
run fits in a working session on a small machine with the real YAMNet
(docs/performance.md has the times).

Runs. Each size runs the whole pipeline (pipeline.local_runner.run_local,
LocalDagRunner, `--classes all`, every other setting at its default, the
Trainer's epochs at --epochs when given) cold, in its own empty output
folder, in its own child process (this script with --child), so imports,
thread pools and memory are that run's own. Sizes run one after the other,
smallest first.

Attribution. The child wraps TFX's Launcher.launch, which LocalDagRunner
calls once per node, one node at a time, and records around each call:
  wall: the wall clock at its start and end, so a node's seconds cover all
    it does (driver, input resolution, executor, publishing);
  CPU: the CPU time of the child and all its descendants at start and end:
    its own (time.process_time), its reaped children's (getrusage) and its
    live descendants' (psutil), so a process the node starts (the Pusher's
    TFLite checks, the ServingModelValidator's) counts once, alive or not;
  peak RSS: the kernel's high-water mark of the child's RSS (VmHWM), reset
    when the node starts (/proc/self/clear_refs) and read when it ends.
These are exact, with no sampling gaps. Processes the child starts have
their own RSS, so the parent also samples the RSS of the child's whole
process tree every 0.1 s: a node's peak RSS is the larger of the child's
high-water mark and the tree's largest sample while the node ran. With the
default Beam arguments (in_memory DirectRunner) every Beam component runs
in the child. A node's peak is the whole process's, so it includes what
earlier nodes left in memory; `rss_at_start_mb` (the child's RSS when the
node started) shows what the node added. Work outside the nodes is reported
as phases, measured the same way: start-up (interpreter, imports, the
YAMNet check, compiling the pipeline), between nodes (LocalDagRunner's own
work) and after the last node (run summary, HTML report, interpreter exit).
total_wall_s is the child process's whole life (its creation to its exit,
as the parent saw it) and total_cpu_s its CPU with its descendants', as
the kernel accounted them when it exited.

Fits, targets and tables: scale_report.py, from the runs' figures.

--json prints one object: {"runs": [{"clips": N, "total_wall_s": ...,
"total_cpu_s": ..., "total_peak_rss_mb": ..., "components": {"<node id>":
{"wall_s": ..., "cpu_s": ..., "peak_rss_mb": ..., "rss_at_start_mb": ...}},
"phases": {...}, ...}, ...], "machine": ..., ...} and scale_report.analyse's
fields beside "runs".

YAMNet: --yamnet, else ../shared/yamnet-savedmodel when present, else the
project's stand-in (named in the report). --work DIR keeps the data, the
runs' outputs and each run's log there (data of the same settings is
reused; outputs are always made afresh); without it a temporary folder is
removed at the end.
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence, Tuple

import psutil

import machine
import scale_report

FOLDS = 5
SAMPLE_RATE = 44100
SAMPLE_INTERVAL_S = 0.1


# ---------------------------------------------------------------- the child


def _tree_cpu() -> float:
  """CPU seconds of this process and all its descendants so far: its own,
  its reaped children's (getrusage) and its live descendants' (each with
  the children it reaped), so a process counts once whether alive or not."""
  children = resource.getrusage(resource.RUSAGE_CHILDREN)
  total = time.process_time() + children.ru_utime + children.ru_stime
  try:
    descendants = psutil.Process().children(recursive=True)
  except psutil.Error:
    descendants = []
  for p in descendants:
    try:
      t = p.cpu_times()
      total += t.user + t.system + t.children_user + t.children_system
    except psutil.Error:
      pass
  return total


def _reset_peak_rss() -> bool:
  try:
    with open('/proc/self/clear_refs', 'w', encoding='ascii') as f:
      f.write('5')
    return True
  except OSError:
    return False


def _peak_rss_mb() -> float:
  """This process's RSS high-water mark since start or its last reset."""
  return machine.process_status_mb('VmHWM')


def _rss_mb() -> float:
  return machine.process_status_mb('VmRSS')


def _record_nodes(records: List[Dict[str, Any]]) -> None:
  """Wraps Launcher.launch so that each node's run is measured."""
  from tfx.orchestration.portable import launcher  # pylint: disable=g-import-not-at-top
  launch = launcher.Launcher.launch

  def measured_launch(self):
    # The high-water mark since the last node ended: the gap before this one
    # (for the first node, all of start-up).
    before = _peak_rss_mb()
    peak_reset = _reset_peak_rss()
    start, cpu, rss = time.time(), _tree_cpu(), _rss_mb()
    try:
      return launch(self)
    finally:
      records.append({
          'node': self._pipeline_node.node_info.id,  # pylint: disable=protected-access
          'start': start, 'end': time.time(),
          'cpu_start': cpu, 'cpu_end': _tree_cpu(),
          'rss_start_mb': rss, 'hwm_before_mb': before,
          'hwm_mb': _peak_rss_mb() if peak_reset else 0.0})
      _reset_peak_rss()

  launcher.Launcher.launch = measured_launch


def child_run(data_root: str, output: str, yamnet: str,
              epochs: int) -> Dict[str, Any]:
  """One cold run of the whole pipeline in this process, nodes measured."""
  from models import hyperparameters  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  # Here, not in the parent: the run imports TF, Beam and TFX anyway.
  description = machine.describe()
  records: List[Dict[str, Any]] = []
  _record_nodes(records)
  config = configs.PipelineConfig(
      data_root=data_root, yamnet_handle=yamnet, classes=('all',),
      output_dir=output,
      hyperparameters=hyperparameters.Hyperparameters(
          **({'epochs': epochs} if epochs else {})))
  # The Trainer's per-epoch lines go to stderr: stdout carries the JSON.
  with contextlib.redirect_stdout(sys.stderr):
    summary = local_runner.run_local(config).to_json()
  return {'machine': description, 'nodes': records,
          'hwm_after_mb': _peak_rss_mb(),
          'status': summary['status'], 'clips': summary['clips'],
          'statuses': {name: facts['status'] for name, facts in
                       summary['components'].items()},
          'blessed': summary.get('blessed')}


# --------------------------------------------------------------- the parent


def _window(samples, start: float, end: float) -> float:
  """Largest tree RSS (MB) sampled in [start, end], 0 if none was."""
  return max((rss for t, rss in samples if start <= t <= end),
             default=0.0) / 2**20


def _figures(wall: float, cpu: float, peak: float) -> Dict[str, float]:
  # Microseconds: the shortest nodes (an importer, a resolver) take a few ms.
  return {'wall_s': round(wall, 6), 'cpu_s': round(cpu, 6),
          'peak_rss_mb': round(peak, 1)}


def attribute(child: Dict[str, Any], process: Dict[str, Any]
             ) -> Dict[str, Any]:
  """Per node and per phase: wall s, CPU s and peak RSS MB."""
  started, exited, samples = (process['started'], process['exited'],
                              process['samples'])
  components = {}
  for record in child['nodes']:
    components[record['node']] = {
        **_figures(record['end'] - record['start'],
                   record['cpu_end'] - record['cpu_start'],
                   max(_window(samples, record['start'], record['end']),
                       record['hwm_mb'])),
        'rss_at_start_mb': round(record['rss_start_mb'], 1)}
  nodes = child['nodes']
  first, last = nodes[0], nodes[-1]
  gaps = list(zip(nodes, nodes[1:]))
  between_peak = max([max(_window(samples, a['end'], b['start']),
                          b['hwm_before_mb']) for a, b in gaps] or [0.0])
  total_peak = _window(samples, started, exited)
  phases = {
      'start-up': _figures(
          first['start'] - started, first['cpu_start'],
          max(_window(samples, started, first['start']),
              first['hwm_before_mb'])),
      'between nodes': _figures(
          sum(b['start'] - a['end'] for a, b in gaps),
          sum(b['cpu_start'] - a['cpu_end'] for a, b in gaps), between_peak),
      'after the last node': _figures(
          exited - last['end'], process['cpu_s'] - last['cpu_end'],
          max(_window(samples, last['end'], exited),
              child['hwm_after_mb'])),
  }
  return {
      'total_wall_s': round(exited - started, 3),
      'total_cpu_s': round(process['cpu_s'], 3),
      'total_peak_rss_mb': round(max(
          [total_peak] + [f['peak_rss_mb'] for f in components.values()] +
          [f['peak_rss_mb'] for f in phases.values()]), 1),
      'components': components, 'phases': phases,
  }


def write_dataset(root: str, clips: int, classes: int,
                  clip_seconds: float) -> Tuple[str, float]:
  """The synthetic ESC-50 of one size (reused when its settings match);
  returns its root and the seconds spent writing it."""
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from data import synthetic  # pylint: disable=g-import-not-at-top
  settings = {'clips': clips, 'classes': classes, 'folds': FOLDS,
              'clip_seconds': clip_seconds, 'sample_rate': SAMPLE_RATE,
              'seed': 0}
  marker = os.path.join(root, 'settings.json')
  if os.path.exists(marker):
    with open(marker, encoding='utf-8') as f:
      if json.load(f) == settings:
        return root, 0.0
  shutil.rmtree(root, ignore_errors=True)
  start = time.time()
  synthetic.write_synthetic_esc50(
      root, list(esc50_classes.ESC50_CLASSES[:classes]),
      clips_per_class_per_fold=clips // (classes * FOLDS), seed=0,
      sample_rate=SAMPLE_RATE, duration_s=clip_seconds)
  with open(marker, 'w', encoding='utf-8') as f:
    json.dump(settings, f)
  return root, time.time() - start


def run(work: str, sizes: Sequence[int], classes: int, clip_seconds: float,
        yamnet: str, epochs: int) -> Dict[str, Any]:
  load_at_start = os.getloadavg()[0]
  runs = []
  for clips in sizes:
    data, write_s = write_dataset(os.path.join(work, f'data-{clips}'), clips,
                                  classes, clip_seconds)
    output = os.path.join(work, f'run-{clips}')
    shutil.rmtree(output, ignore_errors=True)
    os.makedirs(output)
    load_before = os.getloadavg()
    process = machine.run_sampled(
        [os.path.abspath(__file__), '--child', data, output, yamnet,
         str(epochs)],
        os.path.join(work, f'run-{clips}.log'), interval_s=SAMPLE_INTERVAL_S)
    child = json.loads(process['stdout'])
    if child['status'] != 'complete':
      raise RuntimeError(f'the {clips}-clip run did not complete: '
                         f"{child['statuses']}")
    runs.append({'clips': clips, **attribute(child, process),
                 'clips_embedded': child['clips'].get('embedded'),
                 'statuses': child['statuses'], 'blessed': child['blessed'],
                 'data_write_s': round(write_s, 1),
                 'load_average_before': [round(x, 2) for x in load_before],
                 'load_average_after': [round(x, 2) for x in
                                        os.getloadavg()]})
    if len(runs) == 1:
      description = {**child['machine'], 'load_average_1m': load_at_start}
  return {'machine': description, 'yamnet': yamnet, 'classes': classes,
          'folds': FOLDS, 'clip_seconds': clip_seconds,
          'sample_rate': SAMPLE_RATE, 'epochs': epochs or 'default',
          'runs': runs, **scale_report.analyse(runs)}


def _sizes(text: str) -> List[int]:
  return sorted({int(x) for x in text.split(',') if x.strip()})


def main(argv=None) -> None:
  if argv is None:
    argv = sys.argv[1:]
  if argv[:1] == ['--child']:
    print(json.dumps(child_run(*argv[1:4], int(argv[4]))))
    return
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true',
                      help='print one JSON object instead of tables')
  parser.add_argument('--clips', type=_sizes, default=[2000, 20000],
                      help='comma-separated dataset sizes (default '
                      '2000,20000)')
  parser.add_argument('--clip-seconds', type=float, default=1.0)
  parser.add_argument('--classes', type=int, default=50,
                      help='the first N ESC-50 classes (default 50)')
  parser.add_argument('--epochs', type=int, default=0,
                      help="the Trainer's most epochs (default: the "
                      "pipeline's)")
  parser.add_argument('--yamnet', help='YAMNet handle (default: ../shared '
                      'one, else the stand-in)')
  parser.add_argument('--work', help='keep data and outputs in DIR')
  args = parser.parse_args(argv)
  if not 2 <= args.classes <= 50:
    parser.error('--classes must be 2 to 50')
  per_fold = args.classes * FOLDS
  bad = [n for n in args.clips if n <= 0 or n % per_fold]
  if bad or not args.clips:
    parser.error(f'--clips: each size must be a positive multiple of '
                 f'classes x {FOLDS} folds = {per_fold} (got {bad})')
  with contextlib.ExitStack() as stack:
    work = args.work or stack.enter_context(
        tempfile.TemporaryDirectory(prefix='scale-benchmark-'))
    os.makedirs(work, exist_ok=True)
    yamnet = args.yamnet
    if not yamnet and (machine.SHARED_YAMNET / 'saved_model.pb').exists():
      yamnet = str(machine.SHARED_YAMNET)
    if not yamnet:
      from yamnet import standin  # pylint: disable=g-import-not-at-top
      yamnet = standin.build_standin_yamnet(os.path.join(work, 'yamnet'))
      yamnet_name = f'{yamnet} (the project\'s stand-in)'
    else:
      yamnet_name = yamnet
    report = run(work, args.clips, args.classes, args.clip_seconds, yamnet,
                 args.epochs)
    report['yamnet'] = yamnet_name
  print(json.dumps(report, indent=2) if args.json else
        scale_report.format_report(report))


if __name__ == '__main__':
  main()
