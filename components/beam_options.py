"""What the pipeline's Beam arguments mean for runs on this machine."""

import os
from typing import List, Optional, Sequence

from apache_beam.options import pipeline_options

# Beam arguments that name the workers' Python dependencies; TFX builds none
# of its own when one is set.
_DEPENDENCY_OPTIONS = ('extra_packages', 'setup_file', 'requirements_file',
                       'worker_harness_container_image',
                       'sdk_container_image')
# This project's setup.py, beside its packages in a source checkout (absent
# where the project is installed from a wheel).
_PROJECT_SETUP = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'setup.py')


def direct_options(beam_pipeline_args: Sequence[str]
                  ) -> Optional[pipeline_options.DirectOptions]:
  """The DirectRunner's options, or None under another runner."""
  options = pipeline_options.PipelineOptions(list(beam_pipeline_args))
  runner = options.view_as(pipeline_options.StandardOptions).runner
  if runner and 'direct' not in str(runner).lower():
    return None
  return options.view_as(pipeline_options.DirectOptions)


def local_beam_args(beam_pipeline_args: Sequence[str]) -> List[str]:
  """The arguments, naming this project's setup.py for the DirectRunner.

  Given any Beam argument but none naming the dependencies, each Beam
  component's executor copies TFX's installation into a fresh temporary
  folder and packages it for remote workers: 1.2-1.5 s and 42 MB per
  component and run, never deleted. DirectRunner workers import from this
  Python environment and use no package, so naming the project's setup.py
  (which remote workers would need anyway) skips that. Other runners, or
  arguments that already name dependencies, are left as they are.
  """
  args = list(beam_pipeline_args)
  if not args or direct_options(args) is None:
    return args
  return with_project_setup(args)


def with_project_setup(beam_pipeline_args: Sequence[str]) -> List[str]:
  """The arguments plus --setup_file naming this project's setup.py, unless
  they already name the workers' dependencies or setup.py is absent."""
  args = list(beam_pipeline_args)
  options = pipeline_options.PipelineOptions(args).get_all_options()
  if any(options.get(name) for name in _DEPENDENCY_OPTIONS):
    return args
  if not os.path.isfile(_PROJECT_SETUP):
    return args
  return args + [f'--setup_file={_PROJECT_SETUP}']
