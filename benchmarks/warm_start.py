"""Warm start against fresh weights on real clips, once the data has grown.

    .venv/bin/python benchmarks/warm_start.py [--json] [--seeds 3]
        [--tasks esc10 all]

On ../shared/esc50-mini (by default ESC-10, then every class; any dataset in
ESC-50's layout with --data-root), for each held-out fold:
the clips of half the source recordings of the other folds are what an
earlier run trained on, and all of them the data after it grew. A head is
trained on the earlier clips as the pipeline trains it; then, on all the
clips, one head starts from fresh weights (`epochs`) and one from the earlier
head (`warm_start_epochs`), both with early stopping and the refit, as the
Trainer does (models/model.py). Prints the clip accuracy on the held-out fold
and the training seconds of both, paired by fold and seed. The embeddings
are computed once, cached under --output.
"""

import argparse
import dataclasses
import json
import os
import statistics
import time
import zlib
from typing import Any, Dict, List

import numpy as np

import machine


def _earlier(clip_ids: np.ndarray) -> np.ndarray:
  """Patches of the clips of half the source recordings (ESC-50's clip id
  is fold-source-take-target): the data before it grew."""
  sources = np.array([clip.split('-')[1] for clip in clip_ids])
  return np.array([zlib.crc32(s.encode()) % 2 == 0 for s in sources])


def compare(data, hyperparameters, seeds: int) -> List[Dict[str, Any]]:
  """One row per held-out fold and seed: accuracy and seconds, both ways."""
  from models import model  # pylint: disable=g-import-not-at-top
  from pipeline import cross_validation as cv  # pylint: disable=g-import-not-at-top
  earlier = _earlier(data.clip_id)
  rows = []
  for seed in range(seeds):
    config = dataclasses.replace(hyperparameters, seed=seed)
    for held_out in cv.FOLDS:
      train, val, test = cv.fold_masks(data.fold, held_out)
      fit = {}

      def timed_fit(name, train_mask, val_mask, initial=None):
        start = time.perf_counter()
        head, epochs = model.fit_head(
            cv.pairs(data, train_mask), cv.pairs(data, val_mask),
            len(data.classes), config, initial_weights=initial)
        fit[name] = {'seconds': time.perf_counter() - start,
                     'epochs': epochs,
                     'accuracy': cv.head_clip_accuracy(head, data, test)}
        return head

      old = timed_fit('earlier', train & earlier, val & earlier)
      timed_fit('fresh', train, val)
      timed_fit('warm', train, val, model.head_weights(old))
      rows.append({'seed': seed, 'held_out': held_out, **fit})
  return rows


def summarize(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
  differences = [r['warm']['accuracy'] - r['fresh']['accuracy'] for r in rows]
  mean = {kind: {key: statistics.mean(r[kind][key] for r in rows)
                 for key in ('accuracy', 'seconds', 'epochs')}
          for kind in ('earlier', 'fresh', 'warm')}
  return {'mean': mean,
          'warm_minus_fresh_accuracy': statistics.mean(differences),
          'standard_error': (statistics.stdev(differences) /
                             len(differences) ** 0.5),
          'seconds_warm_to_fresh': (mean['warm']['seconds'] /
                                    mean['fresh']['seconds']),
          'pairs': len(rows)}


def run(data_root: str, yamnet: str, output: str, seeds: int,
        tasks: List[str]) -> Dict[str, Any]:
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import cross_validation as cv  # pylint: disable=g-import-not-at-top
  report: Dict[str, Any] = {'machine': machine.describe(), 'tasks': {}}
  for classes in tasks:
    config = cv.cv_config(configs.PipelineConfig(
        data_root=data_root, yamnet_handle=yamnet,
        classes=esc50_classes.parse_classes(classes), output_dir=output))
    data = cv.compute_embeddings(config)
    rows = compare(data, config.hyperparameters, seeds)
    report['tasks'][classes] = {'classes': len(data.classes), 'rows': rows,
                                **summarize(rows)}
  return report


def format_report(report: Dict[str, Any]) -> str:
  lines = [machine.format_machine(report['machine']), '',
           '| --classes | classes | earlier head | fresh weights | warm start '
           '| warm - fresh | training s, fresh / warm (epochs) |',
           '|---|---|---|---|---|---|---|']
  for name, task in report['tasks'].items():
    mean = task['mean']
    lines.append(
        f"| {name} | {task['classes']} | "
        f"{mean['earlier']['accuracy']:.3f} | "
        f"{mean['fresh']['accuracy']:.3f} | {mean['warm']['accuracy']:.3f} | "
        f"{task['warm_minus_fresh_accuracy']:+.3f} +/- "
        f"{task['standard_error']:.3f} ({task['pairs']} pairs) | "
        f"{mean['fresh']['seconds']:.1f} ({mean['fresh']['epochs']:.1f}) / "
        f"{mean['warm']['seconds']:.1f} ({mean['warm']['epochs']:.1f}) |")
  return '\n'.join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--seeds', type=int, default=3)
  parser.add_argument('--tasks', nargs='+', default=['esc10', 'all'],
                      help='a --classes value per task')
  parser.add_argument('--data-root', default=str(machine.SHARED_ESC50))
  parser.add_argument('--yamnet', default=str(machine.SHARED_YAMNET))
  parser.add_argument('--output', default=os.path.join(
      machine.REPO_ROOT, 'outputs', 'benchmarks', 'warm_start'))
  args = parser.parse_args(argv)
  for path in (args.data_root, args.yamnet):
    if not os.path.isdir(path):
      parser.error(f'{path} is absent (../shared beside the repository root, '
                   'or --data-root / --yamnet)')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  report = run(os.path.abspath(args.data_root), os.path.abspath(args.yamnet),
               os.path.abspath(args.output), args.seeds, args.tasks)
  print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == '__main__':
  main()
