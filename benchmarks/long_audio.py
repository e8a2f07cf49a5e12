"""Memory and time of the exported classifier on long inputs.

    .venv/bin/python benchmarks/long_audio.py [--json] [--minutes 1 60]
        [--whole-up-to 10] [--yamnet HANDLE]

Exports the classifier (random 2-class head) over YAMNet (default
../shared/yamnet-savedmodel), then for each length and each way in, runs one
call in a fresh process on noise of that length and reports its wall seconds,
the RSS with the model and the input loaded, and the peak RSS during the
call:

  serving_default   float waveform, YAMNet in blocks (serving/yamnet_blocks.py)
  serving_timeline  the same waveform, per-patch outputs
  serving_wav       the waveform as 16-bit 16 kHz WAV bytes, decoded in-graph
  yamnet_whole      YAMNet called on the whole waveform at once, as the model
                    did before it ran in blocks (only up to --whole-up-to
                    minutes: it holds every patch's activations)

Target (docs/performance.md): peak RSS at the longest length <= 1.5x the
shortest's for the three signatures; seconds per minute of audio about flat.
The report also gives the ratio of what the call adds to the RSS (peak minus
RSS with model and input loaded): the input itself, 230 MB of float32 an hour,
is held by any server that receives it.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Tuple

import numpy as np
import psutil

import machine

MODES = ('serving_default', 'serving_timeline', 'serving_wav', 'yamnet_whole')


def _peak_rss_during(call) -> Tuple[float, float, float]:
  """(seconds, RSS MB before, peak RSS MB while `call` runs), RSS sampled
  every 10 ms: the process's high-water mark would include loading."""
  process = psutil.Process()
  before = process.memory_info().rss
  peak = before
  done = threading.Event()

  def sample():
    nonlocal peak
    while not done.wait(0.01):
      peak = max(peak, process.memory_info().rss)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  start = time.perf_counter()
  try:
    call()
  finally:
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
  return seconds, before / 2**20, max(peak, process.memory_info().rss) / 2**20


def child(mode: str, model_dir: str, yamnet_handle: str,
          minutes: float) -> Dict[str, Any]:
  """One call, in this (fresh) process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from data import audio  # pylint: disable=g-import-not-at-top
  waveform = np.random.default_rng(0).uniform(
      -0.3, 0.3, int(minutes * 60 * audio.TARGET_SAMPLE_RATE)).astype(
          np.float32)
  if mode == 'yamnet_whole':
    model = tf.saved_model.load(yamnet_handle)
    tensor = tf.constant(waveform)
    call = lambda: model(tensor)
  elif mode == 'serving_wav':
    model = tf.saved_model.load(model_dir)
    wav = tf.constant(audio.encode_wav(waveform, audio.TARGET_SAMPLE_RATE))
    call = lambda: model.signatures[mode](wav=wav)
  else:
    model = tf.saved_model.load(model_dir)
    tensor = tf.constant(waveform)
    call = lambda: model.signatures[mode](audio=tensor)
  del waveform
  seconds, loaded_mb, peak_mb = _peak_rss_during(call)
  return {'seconds': seconds, 'rss_loaded_mb': loaded_mb,
          'rss_peak_mb': peak_mb}


def _export(work: str, yamnet_handle: str) -> str:
  from serving import classifier_module  # pylint: disable=g-import-not-at-top
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  head = machine.random_head(2)
  return classifier_module.export_classifier(
      os.path.join(work, 'classifier'), loader.load_yamnet(yamnet_handle),
      head, ['a', 'b'], max_audio_seconds=24 * 3600)


def measure(minutes, whole_up_to: float, yamnet_handle: str
           ) -> Dict[str, Any]:
  results: Dict[str, Dict[str, Any]] = {mode: {} for mode in MODES}
  with tempfile.TemporaryDirectory() as work:
    model_dir = _export(work, yamnet_handle)
    for length in minutes:
      for mode in MODES:
        if mode == 'yamnet_whole' and length > whole_up_to:
          continue
        stdout, _ = machine.run_child(
            [__file__, '--child', mode, model_dir, yamnet_handle,
             str(length)])
        figures = json.loads(stdout.strip().splitlines()[-1])
        figures['seconds_per_minute'] = figures['seconds'] / length
        results[mode][str(length)] = figures
  shortest, longest = str(min(minutes)), str(max(minutes))
  both = [mode for mode in MODES if longest in results[mode]]
  growth = {mode: {length: f['rss_peak_mb'] - f['rss_loaded_mb']
                   for length, f in results[mode].items()} for mode in MODES}
  return {
      'yamnet': yamnet_handle, 'minutes': list(minutes), 'results': results,
      f'peak_rss_ratio_{longest}_to_{shortest}_min': {
          mode: results[mode][longest]['rss_peak_mb'] /
                results[mode][shortest]['rss_peak_mb'] for mode in both},
      # What the call itself adds, beyond the model and the input it holds.
      f'call_rss_growth_ratio_{longest}_to_{shortest}_min': {
          mode: growth[mode][longest] / growth[mode][shortest]
          for mode in both},
  }


def format_report(report: Dict[str, Any]) -> str:
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}", '',
           f"{'way in':18} {'minutes':>7} {'seconds':>8} {'s/min':>6} "
           f"{'RSS loaded MB':>13} {'peak RSS MB':>11}"]
  for mode, by_length in report['results'].items():
    for length, f in by_length.items():
      lines.append(f"{mode:18} {length:>7} {f['seconds']:8.1f} "
                   f"{f['seconds_per_minute']:6.2f} {f['rss_loaded_mb']:13.0f} "
                   f"{f['rss_peak_mb']:11.0f}")
  for key in report:
    if key.startswith(('peak_rss_ratio', 'call_rss_growth_ratio')):
      lines += ['', f'{key}:'] + [f'  {mode}: {ratio:.2f}x' for mode, ratio
                                 in report[key].items()]
  return '\n'.join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--minutes', type=float, nargs='+', default=[1, 60])
  parser.add_argument('--whole-up-to', type=float, default=10)
  parser.add_argument('--yamnet', default=str(machine.SHARED_YAMNET))
  parser.add_argument('--child', nargs=4, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    mode, model_dir, handle, minutes = args.child
    print(json.dumps(child(mode, model_dir, handle, float(minutes))))
    return 0
  return machine.print_yamnet_report(
      args.yamnet, args.json, lambda: measure(args.minutes, args.whole_up_to, args.yamnet),
      format_report)


if __name__ == '__main__':
  sys.exit(main())
