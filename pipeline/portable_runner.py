"""Beam's portability framework on this machine: a job service and a pool of
SDK workers from Beam's own modules, no cluster.

Flink, Spark and Dataflow run Python pipelines through the same framework (a
job service, and workers speaking the Fn API in processes of their own), so
running the pipeline here with `--runner=PortableRunner` exercises what those
runners need: nothing may rely on sharing the launcher's process.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator, List

from components import beam_options


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str,
                   timeout_s: float = 120) -> None:
  deadline = time.time() + timeout_s
  while time.time() < deadline:
    if process.poll() is not None:
      raise RuntimeError(f'{what} exited with code {process.returncode}')
    with socket.socket() as s:
      if s.connect_ex(('localhost', port)) == 0:
        return
    time.sleep(0.5)
  raise RuntimeError(f'{what} did not listen on port {port} in {timeout_s} s')


def beam_args(job_port: int, worker_port: int) -> List[str]:
  """The Beam arguments of a run against the local job service and pool.

  Beam's local job service runs each Beam job (one per component) on one SDK
  worker that it asks the pool for: a fresh process per job. The workers
  import from this environment, so naming the project's setup.py only stops
  TFX from copying and packaging itself at every Beam component.
  """
  return beam_options.with_project_setup([
      '--runner=PortableRunner', f'--job_endpoint=localhost:{job_port}',
      '--environment_type=EXTERNAL',
      f'--environment_config=localhost:{worker_port}'])


@contextlib.contextmanager
def local_services(log_dir: str) -> Iterator[List[str]]:
  """Starts Beam's job service and worker pool on free ports; yields the
  Beam arguments for them; stops both (by PID, with their children) after.

  Workers start as this Python's processes, so this environment's packages
  (TFX, the project) are theirs.
  """
  env = dict(os.environ)
  # The pool starts `python`: this environment's, first on PATH.
  env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env['PATH']
  job_port, worker_port = _free_port(), _free_port()
  modules = (('job service', 'apache_beam.runners.portability.'
              'local_job_service_main', '--port', job_port),
             ('worker pool', 'apache_beam.runners.worker.worker_pool_main',
              '--service_port', worker_port))
  processes = []
  with contextlib.ExitStack() as logs:
    try:
      for what, module, flag, port in modules:
        log = logs.enter_context(open(
            os.path.join(log_dir, f'{what.replace(" ", "_")}.log'), 'w'))
        process = subprocess.Popen(
            [sys.executable, '-m', module, flag, str(port)], env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        _wait_for_port(port, process, what)
      yield beam_args(job_port, worker_port)
    finally:
      for process in processes:
        with contextlib.suppress(ProcessLookupError):
          os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
