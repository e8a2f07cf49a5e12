"""5-fold cross-validation on real ESC-50 clips: dog/cat, ESC-10, 50 classes.

  .venv/bin/python benchmarks/cross_validation.py

runs `pipeline.cross_validation` (the head and the linear probe, same folds,
same embeddings) on ../shared/esc50-mini with ../shared/yamnet-savedmodel and
prints a Markdown table for docs/evaluation.md, with the machine and versions.
The head early-stops on one of the four non-held-out folds and is then
refitted on all four (the pipeline's default); "probe, same 3 folds" trains
the probe on the other three only, "probe, 4 folds" on all four, the usual
ESC-50 setup. The head is also trained with
several seeds (folds unchanged) to show how much one seed's figure can move.
Embeddings are cached under --output, so a rerun only trains.
"""

import argparse
import dataclasses
import os
import platform
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO_ROOT), 'shared')
# (name, --classes, the lead's earlier standardised-LR-probe clip accuracy).
TASKS = (('dog/cat', 'dog,cat', 0.95),
         ('ESC-10', 'esc10', 0.89),
         ('50 classes', 'all', 0.78))


def head_over_seeds(data, config, seeds: int) -> list:
  """Mean clip accuracy over the folds of the head trained with each seed."""
  from models import model  # pylint: disable=g-import-not-at-top
  from pipeline import cross_validation  # pylint: disable=g-import-not-at-top
  means = []
  for seed in range(seeds):
    hyperparameters = dataclasses.replace(config.hyperparameters, seed=seed)
    accuracies = []
    for held_out in cross_validation.FOLDS:
      train, val, test = cross_validation.fold_masks(data.fold, held_out)
      head, _ = model.fit_head(
          cross_validation.pairs(data, train),
          cross_validation.pairs(data, val), len(data.classes),
          hyperparameters)
      accuracies.append(cross_validation.head_clip_accuracy(head, data, test))
    means.append(float(np.mean(accuracies)))
  return means


def probe_on_four_folds(data, num_classes: int) -> list:
  """Clip accuracy per held-out fold of the probe trained on the other four."""
  from pipeline import cross_validation  # pylint: disable=g-import-not-at-top
  accuracies = []
  for held_out in cross_validation.FOLDS:
    train, test = data.fold != held_out, data.fold == held_out
    _, labels, predicted = cross_validation.clip_predictions(
        cross_validation.probe_log_probabilities(
            data.embedding[train], data.label[train], data.embedding[test],
            num_classes), data.clip_id[test], data.label[test])
    accuracies.append(float(np.mean(predicted == labels)))
  return accuracies


def machine() -> str:
  import sklearn  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tfx  # pylint: disable=g-import-not-at-top
  cpu = platform.processor() or platform.machine()
  if os.path.exists('/proc/cpuinfo'):
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      names = [line.split(':', 1)[1].strip() for line in f
               if line.startswith('model name')]
    cpu = names[0] if names else cpu
  return (f'{cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}, '
          f'TensorFlow {tf.__version__}, TFX {tfx.__version__}, scikit-learn '
          f'{sklearn.__version__}, NumPy {np.__version__}')


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--data-root', default=os.path.join(SHARED,
                                                          'esc50-mini'))
  parser.add_argument('--yamnet', default=os.path.join(SHARED,
                                                       'yamnet-savedmodel'))
  parser.add_argument('--output', default=os.path.join(
      REPO_ROOT, 'outputs', 'benchmarks', 'cross_validation'))
  parser.add_argument('--head-seeds', type=int, default=5,
                      help='also train the head with seeds 0..N-1 (cheap '
                      'beside the probe) to show its spread (default: 5)')
  args = parser.parse_args()
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import cross_validation  # pylint: disable=g-import-not-at-top

  rows = []
  for name, classes, reference in TASKS:
    started = time.time()
    config = cross_validation.cv_config(configs.PipelineConfig(
        data_root=os.path.abspath(args.data_root),
        yamnet_handle=os.path.abspath(args.yamnet),
        classes=esc50_classes.parse_classes(classes),
        output_dir=os.path.abspath(args.output)))
    data = cross_validation.compute_embeddings(config)
    embedded = time.time()
    result = cross_validation.evaluate_folds(data, config)
    four = probe_on_four_folds(data, len(data.classes))
    seeds = head_over_seeds(data, config, args.head_seeds)
    print(cross_validation.format_result(result), file=sys.stderr)
    rows.append(
        f"| {name} | {len(data.classes)} | "
        f"{result['embeddings']['clips']} | "
        f"{result['mean_clip_accuracy']:.3f} +/- "
        f"{result['std_clip_accuracy']:.3f} | "
        f'{np.mean(seeds):.3f} ({min(seeds):.3f}-{max(seeds):.3f}) | '
        f"{result['probe_mean_clip_accuracy']:.3f} +/- "
        f"{result['probe_std_clip_accuracy']:.3f} | "
        f'{np.mean(four):.3f} +/- {np.std(four):.3f} | {reference:.2f} | '
        f"{embedded - started:.0f} s ({result['embeddings']['status']}) + "
        f'{time.time() - embedded:.0f} s |')
  print(f'Data: {args.data_root}; YAMNet: {args.yamnet}')
  print(f'Machine: {machine()}')
  print()
  print(f'| task | classes | clips | head, seed 0 | head, mean of '
        f'{args.head_seeds} seeds (min-max) | probe, same 3 folds | probe, 4 '
        'folds | reference probe | time: embeddings + training |')
  print('|---|---|---|---|---|---|---|---|---|')
  print('\n'.join(rows))
  return 0


if __name__ == '__main__':
  sys.exit(main())
