"""Latency per second of audio and size: SavedModel against TFLite.

    .venv/bin/python benchmarks/on_device.py [--json] [--seconds 1 5]
        [--calls 100] [--yamnet HANDLE]

Exports the classifier (random 2-class head) over YAMNet (default
../shared/yamnet-savedmodel), converts it with serving/tflite_export.py, and
times, in one process and alternating in blocks, one call on noise of each
length: the SavedModel's serving_default, the TFLite float model and the
TFLite int8 model (the `tensorflow` package's interpreter, default threads).
Reports p50 / p95 ms and ms per second of audio, and each model's size on
disk.
"""

import argparse
import os
import sys
import tempfile
from typing import Any, Dict

import numpy as np

import machine


def _size_bytes(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(path) for name in names)


def measure(seconds, calls: int, yamnet_handle: str) -> Dict[str, Any]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from serving import classifier_module  # pylint: disable=g-import-not-at-top
  from serving import tflite_check  # pylint: disable=g-import-not-at-top
  from serving import tflite_export  # pylint: disable=g-import-not-at-top
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  head = machine.random_head(2)
  with tempfile.TemporaryDirectory() as work:
    saved_model_dir = classifier_module.export_classifier(
        os.path.join(work, 'saved_model'), loader.load_yamnet(yamnet_handle),
        head, ['a', 'b'])
    models = tflite_export.convert(saved_model_dir)
    sizes = {'saved_model': _size_bytes(saved_model_dir)}
    sizes.update({f'tflite_{v}': len(content)
                  for v, content in models.items()})
    serve = tf.saved_model.load(saved_model_dir).signatures['serving_default']
    runners = {f'tflite_{v}': tflite_check.runner(content)
               for v, content in models.items()}
    latency = {}
    for length in seconds:
      waveform = rng.uniform(-0.3, 0.3, int(16000 * length)).astype(
          np.float32)
      tensor = tf.constant(waveform)
      calls_by_model = {'saved_model': lambda: serve(audio=tensor)}
      for name, runner in runners.items():
        calls_by_model[name] = lambda r=runner: r(audio=waveform)
      figures = machine.time_alternating(calls_by_model, calls)
      for figure in figures.values():
        figure['ms_per_second_of_audio'] = figure['p50_ms'] / length
      latency[str(length)] = figures
  return {'yamnet': yamnet_handle, 'calls': calls, 'size_bytes': sizes,
          'latency': latency}


def format_report(report: Dict[str, Any]) -> str:
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}; {report['calls']} timed calls each",
           '', f"{'model':18} {'size MB':>8}"]
  lines += [f'{name:18} {size / 1e6:8.1f}'
            for name, size in report['size_bytes'].items()]
  lines += ['', f"{'audio s':>7} {'model':18} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'ms per s of audio':>18}"]
  for length, figures in report['latency'].items():
    for name, f in figures.items():
      lines.append(f"{length:>7} {name:18} {f['p50_ms']:8.1f} "
                   f"{f['p95_ms']:8.1f} {f['ms_per_second_of_audio']:18.1f}")
  return '\n'.join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--seconds', type=float, nargs='+', default=[1, 5])
  parser.add_argument('--calls', type=int, default=100)
  parser.add_argument('--yamnet', default=str(machine.SHARED_YAMNET))
  args = parser.parse_args()
  return machine.print_yamnet_report(
      args.yamnet, args.json,
      lambda: measure(args.seconds, args.calls, args.yamnet), format_report)


if __name__ == '__main__':
  sys.exit(main())
