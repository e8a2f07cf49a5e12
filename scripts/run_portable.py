"""Runs a `yamnet-pipeline` command on Beam's portable runner, locally.

    .venv/bin/python scripts/run_portable.py demo --output outputs/portable
    .venv/bin/python scripts/run_portable.py run --data-root ... --yamnet ...

Starts Beam's job service and a worker pool (pipeline/portable_runner.py),
adds the Beam arguments that point every Beam component at them, runs the
command, and stops both. `make portable-demo` runs the first line.
"""

import sys
import tempfile

from pipeline import cli
from pipeline import portable_runner


def main(argv) -> int:
  with tempfile.TemporaryDirectory(prefix='beam-services-') as logs:
    with portable_runner.local_services(logs) as beam_args:
      return cli.main(list(argv) + [f'--beam-arg={a}' for a in beam_args])


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
