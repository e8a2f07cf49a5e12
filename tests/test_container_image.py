"""The project's image, built by scripts/build_image.sh, runs the compiled
Kubeflow pipeline's tasks.

Every container task of the compiled spec runs in a container of that image
with no network, with the exact image, command and arguments the spec gives
it, the artifacts one task reports passed to the next (tests/kfp_launcher.py
plays Kubeflow's launcher). The outputs are compared with the session's
LocalDagRunner run on the same synthetic clips (`demo_run`).

Needs root and Debian's docker.io and debootstrap (.ci/run installs them);
skips, naming what is missing, where the build script cannot build.
"""

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as keys

from data import clip_examples
from data import record_files
from components import examples_io
from components.yamnet_embedding import executor as embedding_gen
from pipeline import demo
from pipeline import kubeflow_v2_runner
from pipeline import nodes

import kfp_launcher
from tfx_artifacts import embeddings_by_patch
from tfx_artifacts import first_run_embeddings
from tfx_artifacts import first_run_examples
from tfx_artifacts import pushed_versions

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / 'scripts' / 'build_image.sh'
TAG = 'yamnet-audio-pipeline:test'
MISSING_PREREQUISITE = 3


def _stop(pid_file: pathlib.Path) -> None:
  """Stops a daemon the build script left running, by its PID."""
  if not pid_file.exists():
    return
  pid = int(pid_file.read_text())
  os.kill(pid, signal.SIGTERM)
  for _ in range(100):
    try:
      os.kill(pid, 0)
    except ProcessLookupError:
      return
    time.sleep(0.2)
  os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope='module')
def image(tmp_path_factory):
  """(docker command, image reference): the image built for this test."""
  client = shutil.which('docker') or shutil.which('/usr/bin/docker')
  if client is None:
    pytest.skip('no Docker client: install Debian\'s docker.io '
                '(.ci/run does, as root)')
  state = tmp_path_factory.mktemp('dockerd')
  environment = dict(os.environ, DAEMON_STATE=str(state))
  build = subprocess.run(
      ['bash', str(BUILD_SCRIPT), '--tag', TAG, '--keep-daemon'],
      env=environment, capture_output=True, text=True, check=False)
  docker = [client]
  if (state / 'dockerd.pid').exists():
    docker += ['--host', f'unix://{state}/docker.sock']
  try:
    if build.returncode == MISSING_PREREQUISITE:
      pytest.skip(build.stderr.strip().splitlines()[-1])
    assert build.returncode == 0, build.stderr[-3000:]
    assert build.stdout.strip().splitlines()[-1] == TAG
    yield docker, TAG, build.stderr
  finally:
    _stop(state / 'dockerd.pid')


@pytest.fixture(scope='module')
def kubeflow_run(image, demo_run, tmp_path_factory):
  """The compiled pipeline run task by task in the image: (job, runs)."""
  docker, tag, _ = image
  local_config, _ = demo_run
  output = str(tmp_path_factory.mktemp('kubeflow_in_containers'))
  data_root, yamnet_dir = demo.prepare_demo_inputs(
      output, list(local_config.classes), clips_per_class_per_fold=3, seed=0)
  config = dataclasses.replace(local_config, data_root=data_root,
                               yamnet_handle=yamnet_dir, output_dir=output)
  pipeline_root = os.path.join(output, 'root')
  job = kubeflow_v2_runner.compile_kubeflow_pipeline(
      config, os.path.join(output, 'pipeline.json'), pipeline_root, image=tag)
  logs = os.path.join(output, 'logs')
  os.makedirs(logs)
  launcher = kfp_launcher.Launcher(job, docker, [output], logs)
  return job, launcher.run()


def _in_image(image, script):
  docker, tag, _ = image
  return subprocess.run([*docker, 'run', '--rm', '--network=none', tag, 'sh',
                         '-c', script], capture_output=True, text=True,
                        check=True).stdout


def _examples(runs, task, key):
  """The Examples artifact a task reported, as TFX reads it."""
  (reported,) = runs[task].outputs[key]
  artifact = standard_artifacts.Examples()
  artifact.uri = reported['uri']
  artifact.split_names = reported['metadata']['split_names']
  return artifact


def _clips(artifact, split):
  """{clip id: tf.Example} of one split (map fields serialize in any order,
  so the records are compared as messages)."""
  clips = {}
  for record in record_files.record_dataset(
      examples_io.split_files(artifact, [split])):
    example = tf.train.Example.FromString(record.numpy())
    clip_id = example.features.feature[clip_examples.CLIP_ID].bytes_list
    clips[clip_id.value[0].decode()] = example
  return clips


def test_image_is_lean(image):
  docker, tag, build_log = image
  size = int(subprocess.run([*docker, 'image', 'inspect', '-f', '{{.Size}}',
                             tag], capture_output=True, text=True,
                            check=True).stdout)
  print(f'image {tag}: {size / 1e6:.0f} MB')
  assert f'image size: {size / 1e6:.0f} MB' in build_log
  found = _in_image(image, 'for tool in gcc g++ cc c++ uv; do '
                    'command -v $tool; done; ls -d /root/.cache /build '
                    '/var/lib/apt/lists/*.deb* /tmp/* 2>/dev/null; true')
  assert found.strip() == ''
  # The CA bundle given to the build is a secret: in no layer's history.
  history = subprocess.run([*docker, 'history', '--no-trunc', tag],
                           capture_output=True, text=True, check=True).stdout
  assert 'BEGIN CERTIFICATE' not in history


def test_image_has_the_locks_python_tfx_and_the_schemas(image):
  lock = (REPO_ROOT / 'requirements.lock').read_text()
  (tfx_pin,) = [line for line in lock.splitlines()
                if line.startswith('tfx==')]
  schemas = [kubeflow_v2_runner.image_path(str(schema)) for schema in
             sorted((REPO_ROOT / 'pipeline' / 'schema').glob('*.pbtxt'))]
  report = _in_image(image, (
      'python -c "import platform, tfx, components, pipeline; '
      'print(platform.python_version(), tfx.__version__)" && ls '
      + ' '.join(schemas)))
  version, tfx_version, *listed = report.split()
  assert version.startswith('3.10.')
  assert tfx_pin == f'tfx=={tfx_version}'
  assert listed == schemas


def test_every_container_task_runs_in_the_image(kubeflow_run):
  job, runs = kubeflow_run
  spec = job['pipelineSpec']
  executors = spec['deploymentSpec']['executors']
  containers = {
      name for name, task in spec['root']['dag']['tasks'].items()
      if 'container' in executors[
          spec['components'][task['componentRef']['name']]['executorLabel']]}
  assert {nodes.EXAMPLE_GEN, nodes.EMBEDDING_GEN, nodes.PUSHER} <= containers
  assert containers <= set(runs)
  for name in containers:
    written = [a['uri'] for artifacts in runs[name].outputs.values()
               for a in artifacts if os.path.exists(a['uri'])]
    assert written, f'{name} wrote none of its outputs'


def test_clip_examples_equal_the_local_runs(kubeflow_run, demo_run):
  _, runs = kubeflow_run
  in_containers = _examples(runs, nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  local = first_run_examples(demo_run[0], embeddings=False)
  assert json.loads(in_containers.split_names) == json.loads(
      local.split_names)
  for split in json.loads(local.split_names):
    clips = _clips(local, split)
    assert clips and _clips(in_containers, split) == clips, split


def test_embeddings_equal_the_local_runs(kubeflow_run, demo_run):
  _, runs = kubeflow_run
  in_containers = embeddings_by_patch(
      _examples(runs, nodes.EMBEDDING_GEN, embedding_gen.EMBEDDINGS_KEY))
  local = first_run_embeddings(demo_run[0])
  assert set(in_containers) == set(local) and local
  difference = max(float(np.max(np.abs(in_containers[k] - local[k])))
                   for k in local)
  assert difference < 1e-4


def test_pushed_model_scores_equal_the_local_runs(kubeflow_run, demo_run):
  """Both runs blessed and pushed; the two pushed models score every clip
  alike (same seed, same library versions)."""
  _, runs = kubeflow_run
  (pushed,) = runs[nodes.PUSHER].outputs[keys.PUSHED_MODEL_KEY]
  assert pushed['metadata']['pushed'] == 1
  in_containers = tf.saved_model.load(
      pushed['metadata']['pushed_destination'])
  config, _ = demo_run
  local = tf.saved_model.load(os.path.join(
      config.serving_model_dir, str(pushed_versions(config)[0])))
  clips = sorted((pathlib.Path(config.data_root) / 'audio').glob('*.wav'))
  assert clips
  for clip in clips:
    waveform, _ = sf.read(clip, dtype='float32')
    scores = [model.signatures['serving_default'](
        audio=tf.constant(waveform))['classifier'].numpy()
              for model in (in_containers, local)]
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)
