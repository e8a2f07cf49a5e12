"""Memory and time of the exported classifier on long inputs.

    .venv/bin/python benchmarks/long_audio.py [--json] [--minutes 1 60]
        [--whole-up-to 10] [--yamnet HANDLE]

Exports the classifier (random 2-class head) over YAMNet (default
../shared/yamnet-savedmodel), then for each length and each way in, runs one
call in a fresh process on noise of that length and reports its wall seconds,
the RSS with the model and the input loaded, what the call adds to it, and
the process's peak RSS (its high-water mark from start to end, so one
measurement never inherits another's peak):

  serving_default   float waveform, YAMNet in blocks (serving/yamnet_blocks.py)
  serving_timeline  the same waveform, per-patch outputs
  serving_wav       the waveform as 16-bit 16 kHz WAV bytes, decoded in-graph
                    block by block (serving/wav_ops.py, serving/resampling.py)
  yamnet_whole      YAMNet called on the whole waveform at once, as the model
                    did before it ran in blocks (only up to --whole-up-to
                    minutes: it holds every patch's activations)

The child holds its input once, as a server holds a request: a float
waveform generated in the graph (230 MB an hour), or WAV bytes read from a
file (115 MB an hour); converting a numpy array would hold two or three
copies and put the benchmark's own copies into the peak.

Target (issue 19, docs/performance.md): the process's peak RSS at the
longest length <= 1.5x the shortest's, for each of the three signatures;
seconds per minute of audio about flat.
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

SIGNATURES = ('serving_default', 'serving_timeline', 'serving_wav')
MODES = SIGNATURES + ('yamnet_whole',)
PEAK_RSS_TARGET = 1.5
_SAMPLE_RATE = 16000
_WAV_BLOCK = 1 << 20


def _peak_rss_during(call) -> Tuple[float, float, float]:
  """(seconds, RSS MB before, peak RSS MB while `call` runs), RSS sampled
  every 10 ms, to tell what the call adds from what loading took."""
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


def _num_samples(minutes: float) -> int:
  return int(minutes * 60 * _SAMPLE_RATE)


def write_noise_wav(path: str, minutes: float) -> str:
  """16-bit 16 kHz noise, written a block at a time."""
  import soundfile  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  total = _num_samples(minutes)
  with soundfile.SoundFile(path, 'w', _SAMPLE_RATE, 1, 'PCM_16') as f:
    for start in range(0, total, _WAV_BLOCK):
      f.write(rng.uniform(-0.3, 0.3, min(_WAV_BLOCK, total - start)))
  return path


def _noise_waveform(minutes: float):
  """Uniform noise in [-0.3, 0.3] made by one graph op into one buffer. The
  seed is an argument so that the graph is not constant-folded, which would
  hold a second copy."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  noise = tf.function(lambda num_samples, seed: tf.random.stateless_uniform(
      [num_samples], seed, -0.3, 0.3))
  return noise(tf.constant(_num_samples(minutes)),
               tf.constant([0, 0], tf.int64))


def child(mode: str, model_dir: str, yamnet_handle: str, minutes: float,
          wav_path: str) -> Dict[str, Any]:
  """One call, in this (fresh) process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if mode == 'yamnet_whole':
    model = tf.saved_model.load(yamnet_handle)
    tensor = _noise_waveform(minutes)
    call = lambda: model(tensor)
  elif mode == 'serving_wav':
    model = tf.saved_model.load(model_dir)
    wav = tf.io.read_file(wav_path)
    call = lambda: model.signatures[mode](wav=wav)
  else:
    model = tf.saved_model.load(model_dir)
    tensor = _noise_waveform(minutes)
    call = lambda: model.signatures[mode](audio=tensor)
  seconds, loaded_mb, call_peak_mb = _peak_rss_during(call)
  return {'seconds': seconds, 'rss_loaded_mb': loaded_mb,
          'call_adds_mb': call_peak_mb - loaded_mb,
          'rss_peak_mb': max(machine.process_status_mb('VmHWM'), call_peak_mb)}


def _export(work: str, yamnet_handle: str) -> str:
  from serving import classifier_module  # pylint: disable=g-import-not-at-top
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  head = machine.random_head(2)
  return classifier_module.export_classifier(
      os.path.join(work, 'classifier'), loader.load_yamnet(yamnet_handle),
      head, ['a', 'b'], max_audio_seconds=24 * 3600)


def _run_lengths(minutes, whole_up_to: float, yamnet_handle: str,
                 work: str) -> Dict[str, Dict[str, Any]]:
  """results[mode][str(length)]: one fresh child process per figure."""
  model_dir = _export(work, yamnet_handle)
  results: Dict[str, Dict[str, Any]] = {mode: {} for mode in MODES}
  for length in minutes:
    wav_path = write_noise_wav(os.path.join(work, f'{length}.wav'), length)
    for mode in MODES:
      if mode == 'yamnet_whole' and length > whole_up_to:
        continue
      stdout, _ = machine.run_child(
          [__file__, '--child', mode, model_dir, yamnet_handle, str(length),
           wav_path])
      figures = json.loads(stdout.strip().splitlines()[-1])
      figures['seconds_per_minute'] = figures['seconds'] / length
      results[mode][str(length)] = figures
    os.remove(wav_path)
  return results


def measure(minutes, whole_up_to: float, yamnet_handle: str
           ) -> Dict[str, Any]:
  with tempfile.TemporaryDirectory() as work:
    results = _run_lengths(minutes, whole_up_to, yamnet_handle, work)
  shortest, longest = str(min(minutes)), str(max(minutes))
  both = [mode for mode in MODES if longest in results[mode]]
  ratio = {mode: results[mode][longest]['rss_peak_mb'] /
                 results[mode][shortest]['rss_peak_mb'] for mode in both}
  return {
      'yamnet': yamnet_handle, 'minutes': list(minutes), 'results': results,
      # The whole process's peak: what a server's memory limit sees.
      f'peak_rss_ratio_{longest}_to_{shortest}_min': ratio,
      'peak_rss_target_ratio': PEAK_RSS_TARGET,
      'peak_rss_target_met': {mode: ratio[mode] <= PEAK_RSS_TARGET
                              for mode in SIGNATURES if mode in ratio},
      # What the call itself adds, beyond the model and the input it holds.
      f'call_rss_growth_ratio_{longest}_to_{shortest}_min': {
          mode: results[mode][longest]['call_adds_mb'] /
                results[mode][shortest]['call_adds_mb'] for mode in both},
  }


def _ratio_lines(report: Dict[str, Any]) -> list:
  lines = []
  met = report['peak_rss_target_met']
  for key in report:
    if not key.startswith(('peak_rss_ratio', 'call_rss_growth_ratio')):
      continue
    lines += ['', f'{key}:']
    for mode, ratio in report[key].items():
      verdict = ''
      if key.startswith('peak_rss_ratio') and mode in met:
        verdict = (f"  target <= {report['peak_rss_target_ratio']}x: "
                   f"{'met' if met[mode] else 'NOT met'}")
      lines.append(f'  {mode:18} {ratio:.2f}x{verdict}')
  return lines


def format_report(report: Dict[str, Any]) -> str:
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}", '',
           f"{'way in':18} {'minutes':>7} {'seconds':>8} {'s/min':>6} "
           f"{'RSS loaded MB':>13} {'call adds MB':>12} {'peak RSS MB':>11}"]
  for mode, by_length in report['results'].items():
    for length, f in by_length.items():
      lines.append(f"{mode:18} {length:>7} {f['seconds']:8.1f} "
                   f"{f['seconds_per_minute']:6.2f} {f['rss_loaded_mb']:13.0f} "
                   f"{f['call_adds_mb']:12.0f} {f['rss_peak_mb']:11.0f}")
  return '\n'.join(lines + _ratio_lines(report))


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true')
  parser.add_argument('--minutes', type=float, nargs='+', default=[1, 60])
  parser.add_argument('--whole-up-to', type=float, default=10)
  parser.add_argument('--yamnet', default=str(machine.SHARED_YAMNET))
  parser.add_argument('--child', nargs=5, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    mode, model_dir, handle, minutes, wav_path = args.child
    print(json.dumps(child(mode, model_dir, handle, float(minutes),
                           wav_path)))
    return 0
  return machine.print_yamnet_report(
      args.yamnet, args.json,
      lambda: measure(args.minutes, args.whole_up_to, args.yamnet),
      format_report)


if __name__ == '__main__':
  sys.exit(main())
