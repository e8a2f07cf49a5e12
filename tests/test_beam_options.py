"""Local runs' Beam arguments: no TFX dependency package for the DirectRunner."""

import os

import pytest
from tfx.dsl.components.base import base_beam_executor
from tfx.utils import dependency_utils

from conftest import REPO_ROOT
from components import beam_options
from components.yamnet_embedding import executor
from pipeline import cross_validation
from pipeline import configs
from pipeline import local_runner
from pipeline import pipeline as pipeline_def

MULTI_THREADING = ['--direct_running_mode=multi_threading',
                   '--direct_num_workers=2']
PROJECT_SETUP = f'--setup_file={os.path.join(REPO_ROOT, "setup.py")}'


def test_direct_runner_arguments_name_the_project_setup():
  assert beam_options.local_beam_args(MULTI_THREADING) == (
      MULTI_THREADING + [PROJECT_SETUP])
  assert beam_options.local_beam_args(['--runner=DirectRunner']) == [
      '--runner=DirectRunner', PROJECT_SETUP]


def test_no_arguments_stay_none():
  # TFX builds no package without arguments: the default run passes none.
  assert beam_options.local_beam_args([]) == []


@pytest.mark.parametrize('args', [
    ['--runner=DataflowRunner', '--project=p'],
    MULTI_THREADING + ['--setup_file=/elsewhere/setup.py'],
    MULTI_THREADING + ['--extra_package=/elsewhere/dep.tar.gz'],
    MULTI_THREADING + ['--requirements_file=requirements.txt'],
    MULTI_THREADING + ['--sdk_container_image=beam:custom'],
])
def test_other_runners_and_named_dependencies_are_kept(args):
  assert beam_options.local_beam_args(args) == args


def test_without_the_project_setup_the_arguments_are_kept(monkeypatch,
                                                          tmp_path):
  # Installed from a wheel: no setup.py beside the packages.
  monkeypatch.setattr(beam_options, '_PROJECT_SETUP',
                      str(tmp_path / 'setup.py'))
  assert beam_options.local_beam_args(MULTI_THREADING) == MULTI_THREADING


def test_beam_executors_build_no_tfx_package(monkeypatch, tmp_path):
  built = []

  def build():
    built.append(True)
    return str(tmp_path / 'tfx_ephemeral.tar.gz')

  monkeypatch.setattr(dependency_utils, 'build_ephemeral_package', build)

  def construct(args):
    return executor.Executor(base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=args, tmp_dir=str(tmp_path)))

  construct(beam_options.local_beam_args(MULTI_THREADING))
  assert not built
  construct(MULTI_THREADING)  # As TFX does with the arguments alone.
  assert built == [True]


def test_local_runs_pass_the_local_arguments(tmp_path):
  config = configs.PipelineConfig(
      data_root=str(tmp_path / 'esc50'), yamnet_handle=str(tmp_path / 'y'),
      classes=['dog', 'cat'], output_dir=str(tmp_path / 'out'),
      beam_pipeline_args=list(MULTI_THREADING))
  expected = MULTI_THREADING + [PROJECT_SETUP]
  assert local_runner.build_pipeline(config, 'fp').beam_pipeline_args == (
      expected)
  assert pipeline_def.create_embedding_pipeline(
      cross_validation.cv_config(config), 'fp',
      pipeline_def.local_deployment(config)).beam_pipeline_args == expected
  # The configuration itself is left as the user gave it.
  assert list(config.beam_pipeline_args) == MULTI_THREADING
