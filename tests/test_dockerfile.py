"""Checks the Dockerfile against the project; `docker build` cannot run here.

It reads the Dockerfile's instructions and replays its project install step
(the COPYs and the `pip install`) into a temporary directory.
"""

import pathlib
import re
import runpy
import shlex
import shutil
import subprocess
import sys

import pytest
import setuptools
from packaging import specifiers

from pipeline import kubeflow_v2_runner

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _instructions():
  """(INSTRUCTION, arguments) pairs, continuation lines joined."""
  text = (REPO_ROOT / 'Dockerfile').read_text()
  text = re.sub(r'\\\n', ' ', text)
  lines = [line.strip() for line in text.splitlines()]
  return [tuple(line.split(None, 1)) for line in lines
          if line and not line.startswith('#')]


def _args(instruction):
  return [args for name, args in _instructions() if name == instruction]


@pytest.fixture(scope='module')
def setup_kwargs():
  """What setup.py passes to setuptools.setup, run from the repo root."""
  captured = {}
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(setuptools, 'setup', captured.update)
    patch.chdir(REPO_ROOT)
    runpy.run_path('setup.py')
  return captured


def test_base_python_matches_the_lock_and_the_image_paths(setup_kwargs):
  (default_base,) = [args.split('=', 1)[1] for args in _args('ARG')
                     if args.startswith('BASE_IMAGE=')]
  version = re.fullmatch(r'python:(\d+\.\d+)-slim', default_base).group(1)
  lock_header = (REPO_ROOT / 'requirements.lock').read_text()[:500]
  assert f'--python-version {version} ' in lock_header
  assert f'{version}.0' in specifiers.SpecifierSet(
      setup_kwargs['python_requires'])
  assert kubeflow_v2_runner.IMAGE_SITE_PACKAGES == (
      f'/usr/local/lib/python{version}/site-packages')


def test_final_stage_takes_only_the_installed_python_from_the_build():
  """The compiler, apt lists and the sources stay in the build stage."""
  assert _args('FROM') == ['${BASE_IMAGE} AS build', '${BASE_IMAGE}']
  final_stage = _instructions()[
      _instructions().index(('FROM', '${BASE_IMAGE}')) + 1:]
  assert [name for name, _ in final_stage if name in ('RUN', 'COPY')] == [
      'COPY']
  assert ('COPY', '--from=build /usr/local /usr/local') in final_stage


def test_extra_ca_certificates_come_as_a_secret():
  (install,) = [args for args in _args('RUN') if 'requirements.lock' in args]
  assert install.startswith('--mount=type=secret,id=extra_ca_certs ')
  assert not [args for args in _args('ARG') + _args('ENV')
              if 'CERT' in args.upper()]


def test_installs_the_lock_with_the_bootstrap_uv():
  runs = ' '.join(_args('RUN'))
  assert ('uv pip install --system -r requirements.lock '
          '--override overrides.txt') in runs
  bootstrap_uv = re.search(r'^UV_VERSION=(\S+)$',
                           (REPO_ROOT / 'scripts/bootstrap.sh').read_text(),
                           re.MULTILINE).group(1)
  assert f'UV_VERSION={bootstrap_uv}' in _args('ARG')
  # TFX gives every Kubeflow task its own command.
  assert not _args('ENTRYPOINT')


def test_dockerignore_keeps_local_state_out():
  ignored = (REPO_ROOT / '.dockerignore').read_text().split()
  assert {'.venv/', '.git/', 'outputs/'} <= set(ignored)


def test_install_step_provides_every_package_and_the_schema(setup_kwargs,
                                                            tmp_path):
  """Replays the COPYs and the project's pip install into a directory."""
  top_level = {p.split('.')[0] for p in setup_kwargs['packages']}
  build = tmp_path / 'build'
  copied = set()
  for args in _args('COPY'):
    if args.startswith('--from='):
      continue
    *sources, _ = args.split()
    for source in sources:
      copied.add(source)
      if (REPO_ROOT / source).is_dir():
        shutil.copytree(REPO_ROOT / source, build / source,
                        ignore=shutil.ignore_patterns('__pycache__'))
      else:
        build.mkdir(exist_ok=True)
        shutil.copy(REPO_ROOT / source, build / source)
  assert top_level | {'setup.py', 'requirements.lock'} <= copied

  (install,) = [part.strip() for args in _args('RUN')
                for part in args.split('&&') if '--no-deps' in part]
  command = shlex.split(install)
  assert command[:2] == ['pip', 'install'] and '-e' not in command
  site = tmp_path / 'site-packages'
  subprocess.run([sys.executable, '-m'] + command + ['--target', str(site)],
                 cwd=build, check=True, capture_output=True)
  assert top_level <= {p.name for p in site.iterdir()}
  # Kubeflow tasks read the schemas where the image installs them.
  schemas = sorted((REPO_ROOT / 'pipeline' / 'schema').glob('*.pbtxt'))
  assert schemas
  for schema in schemas:
    in_image = kubeflow_v2_runner.image_path(str(schema))
    prefix = kubeflow_v2_runner.IMAGE_SITE_PACKAGES + '/'
    assert in_image.startswith(prefix)
    assert (site / in_image[len(prefix):]).is_file(), in_image
