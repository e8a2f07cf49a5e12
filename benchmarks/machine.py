"""What the benchmarks ran on, and helpers they share.

Figures only compare within one run on one machine, so every report starts
with the machine, the versions and how busy the machine was.
"""

import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import psutil

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / 'shared'
SHARED_ESC50 = SHARED / 'esc50-mini'
SHARED_YAMNET = SHARED / 'yamnet-savedmodel'


def shared_inputs_missing() -> List[str]:
  """Files of ../shared the real-data benchmarks need and that are absent."""
  return [str(p) for p in (SHARED_ESC50 / 'meta' / 'esc50.csv',
                           SHARED_YAMNET / 'saved_model.pb') if not p.exists()]


def _cpu_model() -> str:
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


def describe() -> Dict[str, Any]:
  """nproc, CPU model, memory, load and the versions that matter here."""
  # Imported here: the child processes that time TF must configure it first.
  import apache_beam  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tfx  # pylint: disable=g-import-not-at-top
  return {
      'nproc': os.cpu_count(),
      'cpu_model': _cpu_model(),
      'memory_gib': round(psutil.virtual_memory().total / 2**30, 1),
      'load_average_1m': os.getloadavg()[0],
      'python': platform.python_version(),
      'tensorflow': tf.__version__,
      'apache_beam': apache_beam.__version__,
      'tfx': tfx.__version__,
  }


def format_machine(info: Dict[str, Any]) -> str:
  return (f"Machine: {info['nproc']} cores ({info['cpu_model']}), "
          f"{info['memory_gib']} GiB; Python {info['python']}, "
          f"TF {info['tensorflow']}, Beam {info['apache_beam']}, "
          f"TFX {info['tfx']}; load average at start "
          f"{info['load_average_1m']:.2f}")


def tree_rss(process: psutil.Process) -> int:
  """RSS (bytes) of the process and its live descendants; 0 for any that
  has exited meanwhile."""
  try:
    processes = [process] + process.children(recursive=True)
  except psutil.Error:
    processes = [process]
  total = 0
  for p in processes:
    try:
      total += p.memory_info().rss
    except psutil.Error:
      pass
  return total


def process_status_mb(field: str) -> float:
  """A size field of /proc/self/status (VmRSS, VmHWM, ...) in MB. VmHWM is
  the exact RSS high-water mark, where sampling could miss a short spike;
  getrusage's ru_maxrss would carry the parent's peak over through fork and
  exec."""
  with open('/proc/self/status', encoding='ascii') as f:
    for line in f:
      if line.startswith(field + ':'):
        return int(line.split()[1]) / 1024
  raise RuntimeError(f'no {field} in /proc/self/status')


def run_sampled(args: List[str], log_path: str, timeout_s: float = 3600,
                interval_s: float = 0.05) -> Dict[str, Any]:
  """Runs `python args...` with its stderr to log_path; returns its stdout,
  its start and exit (epoch s), its CPU seconds with its descendants' (the
  kernel's accounting of reaped children, so only one child at a time is
  meaningful) and samples (time, RSS bytes of it and its live descendants)
  every interval_s.

  Raises:
    RuntimeError: The child failed; its stderr tail is in the message.
  """
  reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
  with open(log_path, 'w', encoding='utf-8') as log:
    child = subprocess.Popen([sys.executable] + args, cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=log, text=True)
  process = psutil.Process(child.pid)
  started = process.create_time()
  samples: List[Tuple[float, int]] = []
  done = threading.Event()

  def sample():
    while not done.is_set():
      samples.append((time.time(), tree_rss(process)))
      done.wait(interval_s)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  try:
    stdout, _ = child.communicate(timeout=timeout_s)
  finally:
    done.set()
    sampler.join()
  exited = time.time()
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu = (after.ru_utime + after.ru_stime) - (reaped.ru_utime +
                                               reaped.ru_stime)
  if child.returncode:
    with open(log_path, encoding='utf-8', errors='replace') as f:
      tail = f.read()[-3000:]
    raise RuntimeError(f'{args[:2]} failed ({child.returncode}), log '
                       f'{log_path}:\n{tail}')
  return {'stdout': stdout, 'started': started, 'exited': exited,
          'cpu_s': cpu, 'samples': samples}


def run_child(args: List[str], timeout_s: float = 3600
             ) -> Tuple[str, float]:
  """Runs `python args...`; returns its stdout and the peak RSS (MB) of it
  and all its descendants, sampled every 50 ms.

  Raises:
    RuntimeError: The child failed; its stderr tail is in the message.
  """
  with tempfile.TemporaryDirectory(prefix='benchmark-child-') as scratch:
    run = run_sampled(args, os.path.join(scratch, 'stderr.log'), timeout_s)
  return run['stdout'], max((rss for _, rss in run['samples']),
                            default=0) / 2**20


WARMUP_CALLS = 10
TIMED_CALLS = 200
# Calls alternate between the models in blocks, so a busier moment on a
# shared machine affects them alike.
_BLOCK = 20


def _percentiles(seconds: List[float]) -> Dict[str, float]:
  ms = np.array(seconds) * 1000
  return {'p50_ms': float(np.percentile(ms, 50)),
          'p95_ms': float(np.percentile(ms, 95)),
          'mean_ms': float(ms.mean())}


def time_alternating(calls: Dict[str, Callable[[], Any]],
                     timed_calls: int = TIMED_CALLS
                    ) -> Dict[str, Dict[str, float]]:
  """p50 / p95 / mean milliseconds of each call, timed in alternating
  blocks after WARMUP_CALLS each."""
  timings: Dict[str, List[float]] = {name: [] for name in calls}
  for call in calls.values():
    for _ in range(WARMUP_CALLS):
      call()
  for _ in range(max(timed_calls // _BLOCK, 1)):
    for name, call in calls.items():
      for _ in range(_BLOCK):
        start = time.perf_counter()
        call()
        timings[name].append(time.perf_counter() - start)
  return {name: _percentiles(t) for name, t in timings.items()}


def random_head(num_classes: int, seed: int = 0) -> List[np.ndarray]:
  """Weights of a random Dense(512) -> Dense(num_classes) head, for timing
  an exported classifier: what it answers does not matter there."""
  rng = np.random.default_rng(seed)
  return [rng.normal(0, 0.05, (1024, 512)).astype(np.float32),
          np.zeros(512, np.float32),
          rng.normal(0, 0.05, (512, num_classes)).astype(np.float32),
          np.zeros(num_classes, np.float32)]


def print_yamnet_report(yamnet: str, as_json: bool,
                        measure: Callable[[], Dict[str, Any]],
                        format_report: Callable[[Dict[str, Any]], str]) -> int:
  """Runs `measure` unless the YAMNet it needs is absent; prints the report
  (machine first) as text or JSON."""
  if not os.path.exists(yamnet):
    print(f'Skipped: no YAMNet at {yamnet}', file=sys.stderr)
    return 0
  report = {'machine': describe(), **measure()}
  print(json.dumps(report, indent=2) if as_json else format_report(report))
  return 0
