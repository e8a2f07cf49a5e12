"""Throughput of the embedding step against YAMNet alone and the recipe.

    .venv/bin/python benchmarks/embedding.py [--json] [--clips N] [--rounds R]
        [--modes ...]

On ../shared/esc50-mini (skipped if absent; its YAMNet is required) and on a
synthetic set of N clips (default 2000) plus one of 200, prints patches/s of:
  1. raw: YAMNet alone on decoded 16 kHz audio, best of threads and batching
     (per-clip calls, a graph batch as the executor uses, `call_batch`; one
     process with 1 or 2 TF threads, one process making two calls at once
     with each op on one thread, or two 1-thread processes at once);
  2. recipe: the source recipe's tf.data over the wav files, decode and
     resample per file, one YAMNet call per clip, unbatch; timed to its
     last patch;
  3. pipeline: YamnetEmbeddingGen's executor on Esc50ExampleGen's output (both
     run with the same DirectRunner mode, as in the pipeline), from clip
     Examples to written patch Examples, in each DirectRunner mode;
  4. back to back: R rounds of the best mode's executor and the best raw
     set-up over the same N clips in one pass, one right after the other, so
     that both meet this machine at the same speed; the median of the
     rounds' ratios is the paired ratio.
Pipeline figures are whole executor runs (model loads and Beam start-up
included) and, from the N and 200 clip runs, marginal (patches added per
second added), which leaves out the fixed start-up. Peak RSS is of the
executor's process and its children. Each measurement runs in its own
process, so TF's thread pools and peak RSS are its own.
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

import embedding_report
import embedding_tasks
import machine
from embedding_tasks import MODES, SMALL_CLIPS, TASKS

_SYNTHETIC_CLASSES = 40
# Esc50ExampleGen fails with LostRecordsError when a DirectRunner
# multi-worker write drops a record (docs/performance.md); it is rerun.
_EXAMPLE_GEN_ATTEMPTS = 3


# --- Orchestration. ---


def _child(task: str, **kwargs):
  """Runs a task in a fresh process; returns (its result, peak RSS MB)."""
  stdout, peak_mb = machine.run_child(
      [os.path.abspath(__file__), '--task', task, '--task-args',
       json.dumps(kwargs)])
  return json.loads(stdout.strip().splitlines()[-1]), peak_mb


# (label, TF intra-op threads, inter-op threads, concurrent calls, processes)
RAW_SETUPS = (
    ('1 process x 1 thread', 1, 1, 1, 1),
    ('1 process x 2 threads', 2, 2, 1, 1),
    ('1 process, 2 calls at once x 1 thread', 1, 2, 2, 1),
    ('2 processes x 1 thread', 1, 1, 1, 2),
)


def measure_raw(clips_dir: str, handle: str,
                work: str) -> Dict[str, Dict[str, float]]:
  """Patches/s (best repeat) of each calling style and thread set-up, and its
  CPU ms per patch."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  figures = {}
  for label, intra, inter, calls, parties in RAW_SETUPS:
    sync_dir = tempfile.mkdtemp(dir=work)
    with concurrent.futures.ThreadPoolExecutor(parties) as pool:
      runs = [r[0] for r in pool.map(
          lambda part, intra=intra, inter=inter, calls=calls, parties=parties,
          sync_dir=sync_dir: _child(
              'raw', intra=intra, inter=inter, calls=calls,
              clips_uri=os.path.join(clips_dir, 'examples'), handle=handle,
              part=part, parties=parties, sync_dir=sync_dir),
          range(parties))]
    for style in runs[0]:
      best = {'patches_per_s': 0.0}
      for repeat in range(embedding_tasks.RAW_REPEATS):
        spans = [run[style][repeat] for run in runs]
        seconds = max(s[1] for s in spans) - min(s[0] for s in spans)
        patches = sum(s[2] for s in spans)
        if patches / seconds > best['patches_per_s']:
          best = {'patches_per_s': patches / seconds,
                  'cpu_ms_per_patch': 1000 * sum(s[3] for s in spans) /
                                      patches}
      figures[f'{style}, {label}'] = best
  return figures


def measure_raw_same_work(clips_dir: str, clips: int, handle: str,
                          work: str) -> Dict[str, Any]:
  """The best raw set-up over every clip the executor embedded, in one pass.

  As the executor calls YAMNet (graph batches of 16, one call in flight per
  core, one TF thread per op), with the audio decoded into memory first: a
  raw rate over the same work, for as long as the executor runs.
  """
  cores = os.cpu_count() or 1
  run, _ = _child('raw', intra=1, inter=cores, calls=cores,
                  clips_uri=os.path.join(clips_dir, 'examples'),
                  handle=handle, part=0, parties=1,
                  sync_dir=tempfile.mkdtemp(dir=work), clips=clips,
                  repeats=1, styles=[embedding_tasks.GRAPH_BATCH])
  start, end, patches, cpu = run[embedding_tasks.GRAPH_BATCH][0]
  return {'clips': clips, 'patches': patches, 'seconds': end - start,
          'patches_per_s': patches / (end - start),
          'cpu_ms_per_patch': 1000 * cpu / patches}


def _embed(clips_dir: str, gen: Dict[str, Any], out_dir: str, handle: str,
           mode: str):
  """The embedding executor on an ExampleGen output; (result, peak RSS MB)."""
  return _child('embed', clips_dir=clips_dir, split_names=gen['split_names'],
                custom_properties=gen['custom_properties'], out_dir=out_dir,
                handle=handle, mode=mode)


def measure_paired(clips_dir: str, gen: Dict[str, Any], clips: int,
                   handle: str, work: str, mode: str,
                   rounds: int) -> Dict[str, Any]:
  """Rounds of the executor and a one-pass raw over the same clips, each
  round's two runs back to back (alternating which goes first), so both see
  the machine at the same speed; the ratio of each round and their median.
  """
  figures = []
  for index in range(rounds):
    out_dir = os.path.join(work, f'paired-{index}')
    runs = {}
    for kind in (('raw', 'pipeline') if index % 2 == 0 else
                 ('pipeline', 'raw')):
      if kind == 'raw':
        runs['raw'] = measure_raw_same_work(clips_dir, clips, handle, work)
      else:
        result, _ = _embed(clips_dir, gen, out_dir, handle, mode)
        runs['pipeline'] = result['patches'] / result['seconds']
        shutil.rmtree(out_dir)
    figures.append({
        'raw_patches_per_s': runs['raw']['patches_per_s'],
        'pipeline_patches_per_s': runs['pipeline'],
        'ratio': runs['pipeline'] / runs['raw']['patches_per_s']})
    _log(f'Round {index + 1}/{rounds}: pipeline {runs["pipeline"]:.0f}, raw '
         f'{runs["raw"]["patches_per_s"]:.0f} patches/s, ratio '
         f'{figures[-1]["ratio"]:.2f}')
  return {'mode': mode, 'clips': clips, 'rounds': figures,
          'median_ratio': statistics.median(f['ratio'] for f in figures)}


def measure_pipeline(data_root: str, handle: str, work: str,
                     modes: List[str]) -> Dict[str, Dict[str, Any]]:
  """Per mode: ExampleGen then the timed embedding executor."""
  figures = {}
  for mode in modes:
    clips_dir = os.path.join(work, f'clips-{mode}')
    lost = []
    for _ in range(_EXAMPLE_GEN_ATTEMPTS):
      try:
        gen, _ = _child('example_gen', data_root=data_root,
                        out_dir=clips_dir, mode=mode)
        break
      except RuntimeError as error:  # Only a lost-records check is retried.
        if 'LostRecordsError' not in str(error):
          raise
        lost.append(str(error).strip().splitlines()[-1])
        _log(f'ExampleGen ({mode}) lost records; running it again')
    else:
      raise RuntimeError(f'ExampleGen ({mode}) lost records in every '
                         f'attempt: {lost}')
    result, peak_mb = _embed(clips_dir, gen, os.path.join(
        work, f'embeddings-{mode}'), handle, mode)
    result.update(clips_in=gen['clips_written'],
                  example_gen={key: gen[key] for key in
                               ('split_names', 'custom_properties')},
                  example_gen_lost_records=lost,
                  patches_per_s=result['patches'] / result['seconds'],
                  cpu_ms_per_patch=1000 * result['cpu_seconds'] /
                  result['patches'],
                  peak_rss_mb=peak_mb,
                  load_1m_after=os.getloadavg()[0],
                  input_files=len(glob.glob(os.path.join(
                      clips_dir, 'examples', '*', '*'))))
    figures[mode] = result
  return figures


def _synthetic(root: str, clips: int) -> str:
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from data import synthetic  # pylint: disable=g-import-not-at-top
  per_fold = clips // (_SYNTHETIC_CLASSES * 5)
  synthetic.write_synthetic_esc50(
      root, classes=esc50_classes.ESC50_CLASSES[:_SYNTHETIC_CLASSES],
      clips_per_class_per_fold=per_fold, seed=0)
  return root


def _log(message: str) -> None:
  print(f'[{time.strftime("%H:%M:%S")}] {message}', file=sys.stderr,
        flush=True)


def run(clips: int, modes: List[str], rounds: int,
        work: str) -> Dict[str, Any]:
  """All measurements; returns the report as a dict."""
  handle = str(machine.SHARED_YAMNET)
  report: Dict[str, Any] = {'machine': machine.describe(), 'datasets': {}}
  datasets = {}
  missing = machine.shared_inputs_missing()
  if str(machine.SHARED_YAMNET / 'saved_model.pb') in missing:
    raise SystemExit(f'needs the shared YAMNet: missing {missing}')
  if missing:
    report['skipped'] = ('esc50-mini: ../shared beside the repo root is '
                         f'absent (missing {", ".join(missing)})')
    _log(f'Skipping {report["skipped"]}')
  else:
    datasets['esc50-mini'] = str(machine.SHARED_ESC50)
  _log(f'Writing synthetic sets of {clips} and {SMALL_CLIPS} clips')
  datasets[f'synthetic-{clips}'] = _synthetic(
      os.path.join(work, f'synthetic-{clips}'), clips)
  datasets[f'synthetic-{SMALL_CLIPS}'] = _synthetic(
      os.path.join(work, f'synthetic-{SMALL_CLIPS}'), SMALL_CLIPS)

  for name, root in datasets.items():
    _log(f'Pipeline on {name} ({", ".join(modes)})')
    report['datasets'][name] = measure_pipeline(
        root, handle, os.path.join(work, name), modes)
  first = next(iter(datasets))
  _log(f'Raw YAMNet and the recipe on {first}')
  report['raw'] = measure_raw(
      os.path.join(work, first, f'clips-{modes[0]}'), handle, work)
  report['raw_dataset'] = first
  big = report['datasets'][f'synthetic-{clips}']
  best = max(modes, key=lambda m: big[m]['patches_per_s'])
  _log(f'{rounds} rounds of the executor ({best}) and raw YAMNet over the '
       f'{clips} clips, back to back')
  report['paired'] = measure_paired(
      os.path.join(work, f'synthetic-{clips}', f'clips-{best}'),
      big[best]['example_gen'], clips, handle, work, best, rounds)
  report['recipe'], _ = _child('recipe', data_root=datasets[first],
                               handle=handle)
  embedding_report.summarize(report, clips, modes)
  report['load_average_1m_end'] = os.getloadavg()[0]
  return report



def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true',
                      help='print one JSON object instead of tables')
  parser.add_argument('--clips', type=int, default=2000,
                      help='size of the large synthetic set, a multiple of '
                      f'{_SYNTHETIC_CLASSES * 5}')
  parser.add_argument('--modes', nargs='+', choices=list(MODES),
                      default=list(MODES))
  parser.add_argument('--rounds', type=int, default=3,
                      help='rounds of the best mode and a one-pass raw run '
                      'back to back, for the paired ratio')
  parser.add_argument('--task', help=argparse.SUPPRESS)
  parser.add_argument('--task-args', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.task:
    print(json.dumps(TASKS[args.task](**json.loads(args.task_args))))
    return
  if args.clips % (_SYNTHETIC_CLASSES * 5) or args.clips <= SMALL_CLIPS:
    parser.error(f'--clips must be a multiple of {_SYNTHETIC_CLASSES * 5} '
                 f'above {SMALL_CLIPS}')
  if args.rounds < 1:
    parser.error('--rounds must be at least 1')
  with tempfile.TemporaryDirectory(prefix='embedding-benchmark-') as work:
    report = run(args.clips, args.modes, args.rounds, work)
  print(json.dumps(report, indent=2) if args.json else embedding_report.format_report(report))


if __name__ == '__main__':
  main()
