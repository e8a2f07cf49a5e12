"""Shared fixtures: paths, the real data in ../shared, and session-wide runs.

Pipeline runs take minutes, so each distinct run happens once per session and
every test that needs it reads its outputs. `make test` spreads the tests over
pytest-xdist workers in groups (pytest_collection_modifyitems below), so that
no run is made twice.
"""

import os
import pathlib
import warnings

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / 'shared'
SHARED_ESC50 = SHARED / 'esc50-mini'
SHARED_YAMNET = SHARED / 'yamnet-savedmodel'

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore', category=FutureWarning,
                        module='google.api_core')


def pytest_make_parametrize_id(config, val, argname):  # pylint: disable=unused-argument
  """Bytes parameters are named by their length, not their content: xdist
  refuses to run when its workers collect different ids, and some encoders
  put the time into the bytes (libsndfile's PEAK chunk of float WAVs)."""
  if isinstance(val, bytes):
    return f'{argname}-{len(val)}-bytes'
  return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
  """Puts each test module in one xdist group, so its module-scoped runs are
  made by one worker; every module using the session's `demo_run` joins one
  group, so that run is made once. A test may name its own group instead
  (tests/test_benchmarks.py, whose scripts each run their own pipelines)."""
  demo_run_modules = {item.module.__name__ for item in items
                      if 'demo_run' in item.fixturenames}
  for item in items:
    if item.get_closest_marker('xdist_group'):
      continue
    module = item.module.__name__
    item.add_marker(pytest.mark.xdist_group(
        'demo_run' if module in demo_run_modules else module))


def require_shared() -> None:
  """Skips the calling test when ../shared (real ESC-50 clips, YAMNet) is absent."""
  missing = [str(p) for p in (SHARED_ESC50 / 'meta' / 'esc50.csv',
                              SHARED_YAMNET / 'saved_model.pb')
             if not p.exists()]
  if missing:
    pytest.skip('real-data test: ../shared beside the repo root is absent '
                f'(missing {", ".join(missing)})')


@pytest.fixture(scope='session')
def standin_yamnet(tmp_path_factory) -> str:
  """The project's YAMNet-shaped SavedModel, built once per session."""
  from yamnet import standin  # pylint: disable=g-import-not-at-top
  return standin.build_standin_yamnet(
      str(tmp_path_factory.mktemp('yamnet') / 'standin'), seed=0)


@pytest.fixture(scope='session')
def demo_run(tmp_path_factory):
  """One offline pipeline run on synthetic dog/cat clips, shared by all tests.

  Returns (PipelineConfig, RunSummary). The pushed model is under
  config.serving_model_dir; MLMD is config.metadata_path.
  """
  from models import hyperparameters  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import demo  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  output = str(tmp_path_factory.mktemp('demo_run'))
  data_root, yamnet_dir = demo.prepare_demo_inputs(
      output, ['dog', 'cat'], clips_per_class_per_fold=3, seed=0)
  config = configs.PipelineConfig(
      data_root=data_root, yamnet_handle=yamnet_dir, classes=['dog', 'cat'],
      output_dir=output,
      hyperparameters=hyperparameters.Hyperparameters(epochs=10))
  summary = local_runner.run_local(config)
  return config, summary
