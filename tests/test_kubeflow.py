"""Compiles the pipeline for Kubeflow V2 (no cluster) and reads the result."""

import json
import pathlib

import pytest
import tensorflow_model_analysis as tfma
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.utils import import_utils

from components import quarantine
from yamnet import loader
from data import esc50_classes
from pipeline import cli
from pipeline import configs
from pipeline import kubeflow_v2_runner

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

IMAGE = 'registry.example.com/yamnet/pipeline:test'
DATA_ROOT = 'gs://example-bucket/esc50'
PIPELINE_ROOT = 'gs://example-bucket/root'
CLASSES = ['dog', 'cat', 'rooster']
COMPONENTS = ('Esc50ExampleGen', 'YamnetEmbeddingGen', 'Transform', 'Trainer',
              'Evaluator', 'patch_evaluator', 'Pusher')
RESOLVER = 'latest_blessed_model_resolver'
IMPORT_SCHEMA_GEN = ('tfx.components.schema_gen.import_schema_gen.executor.'
                     'Executor')
RUN_EXECUTOR = [
    'python', '-m',
    'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor']


@pytest.fixture(scope='module')
def job(tmp_path_factory):
  """The PipelineJob the `kubeflow` subcommand writes, parsed as its proto."""
  output = tmp_path_factory.mktemp('kubeflow') / 'pipeline.json'
  assert cli.main([
      'kubeflow', '--output', str(output), '--pipeline-root', PIPELINE_ROOT,
      '--data-root', DATA_ROOT, '--yamnet', 'https://tfhub.dev/google/yamnet/1',
      '--classes', ','.join(CLASSES), '--image', IMAGE, '--min-accuracy', '0.7',
      '--beam-arg=--direct_num_workers=2']) == 0
  with open(output) as f:
    return json_format.ParseDict(json.load(f), pipeline_spec_pb2.PipelineJob())


def _spec(job) -> pipeline_spec_pb2.PipelineSpec:
  return json_format.ParseDict(
      json_format.MessageToDict(job.pipeline_spec),
      pipeline_spec_pb2.PipelineSpec())


def _executors(spec):
  return json_format.ParseDict(
      json_format.MessageToDict(spec.deployment_spec),
      pipeline_spec_pb2.PipelineDeploymentConfig()).executors


def _containers(spec):
  """Task name -> container spec, for the tasks that run in a container."""
  executors = _executors(spec)
  containers = {}
  for name, task in spec.root.dag.tasks.items():
    label = spec.components[task.component_ref.name].executor_label
    executor = executors[label]
    if executor.HasField('container'):
      containers[name] = executor.container
  return containers


def _import_schema_tasks(spec):
  return [name for name, container in _containers(spec).items()
          if IMPORT_SCHEMA_GEN in container.args]


def test_every_component_is_a_task(job):
  spec = _spec(job)
  tasks = set(spec.root.dag.tasks)
  assert set(COMPONENTS) <= tasks
  assert _import_schema_tasks(spec)
  # The resolver compiles into one query per input channel.
  assert [t for t in tasks if t.startswith(RESOLVER)]


def test_every_container_runs_the_image_with_tfx_entrypoint(job):
  spec = _spec(job)
  containers = _containers(spec)
  # Everything but the resolver's metadata queries runs in a container.
  assert set(spec.root.dag.tasks) - set(containers) == {
      t for t in spec.root.dag.tasks if t.startswith(RESOLVER)}
  for name, container in containers.items():
    assert container.image == IMAGE, name
    assert list(container.command) == RUN_EXECUTOR, name
  assert '--direct_num_workers=2' in containers['Esc50ExampleGen'].args


def test_runtime_parameters_have_defaults(job):
  spec = _spec(job)
  inputs = spec.root.input_definitions.parameters
  assert inputs['data_root'].default_value.string_value == DATA_ROOT
  assert json.loads(inputs['classes'].default_value.string_value) == CLASSES
  values = job.runtime_config.parameter_values
  assert values['data_root'].string_value == DATA_ROOT
  assert json.loads(values['classes'].string_value) == CLASSES
  example_gen = spec.root.dag.tasks['Esc50ExampleGen'].inputs.parameters
  assert example_gen['input_base'].component_input_parameter == 'data_root'
  assert example_gen['classes'].component_input_parameter == 'classes'


def test_pusher_is_gated_by_the_evaluator_blessing(job):
  pusher = _spec(job).root.dag.tasks['Pusher']
  blessing = pusher.inputs.artifacts['model_blessing'].task_output_artifact
  assert (blessing.producer_task, blessing.output_artifact_key) == (
      'Evaluator', 'blessing')
  assert 'Evaluator' in pusher.dependent_tasks


def test_threshold_and_paths_are_fixed_at_compile_time(job):
  tasks = _spec(job).root.dag.tasks
  eval_config = json_format.Parse(tasks['Evaluator'].inputs.parameters[
      'eval_config'].runtime_value.constant.string_value, tfma.EvalConfig())
  thresholds = [t.threshold.value_threshold.lower_bound.value
                for s in eval_config.metrics_specs for m in s.metrics
                for t in m.per_slice_thresholds]
  assert thresholds == [0.7]
  assert eval_config.model_specs[0].signature_name == 'clip_evaluation'
  push = json_format.Parse(tasks['Pusher'].inputs.parameters[
      'push_destination'].runtime_value.constant.string_value,
                           tfx.proto.PushDestination())
  assert push.filesystem.base_directory == (
      f'{PIPELINE_ROOT}/serving/sound_classifier')
  # Schemas are read where the Dockerfile installs the package.
  for name in _import_schema_tasks(_spec(job)):
    schema_file = tasks[name].inputs.parameters[
        'schema_file'].runtime_value.constant.string_value
    site_packages, relative = schema_file.split('/site-packages/')
    assert f'{site_packages}/site-packages' == (
        kubeflow_v2_runner.IMAGE_SITE_PACKAGES)
    assert (REPO_ROOT / relative).is_file(), name


def test_custom_artifact_types_are_importable_in_the_container(job):
  """The container entrypoint imports a custom artifact class by its title."""
  titles = {}
  for name, component in _spec(job).components.items():
    for output in component.output_definitions.artifacts.values():
      title = yaml.safe_load(output.artifact_type.instance_schema)['title']
      if not title.startswith('tfx.'):
        titles.setdefault(title, set()).add(name)
  assert titles['components.QuarantinedClips'] == {'Esc50ExampleGen',
                                                    'YamnetEmbeddingGen'}
  for title in titles:
    artifact_class = import_utils.import_class_by_path(title)
    assert artifact_class.TYPE_NAME == title
  assert import_utils.import_class_by_path(
      'components.QuarantinedClips') is quarantine.QuarantinedClips


def test_yaml_output_is_a_pipeline_spec_with_defaults(tmp_path):
  output = tmp_path / 'pipeline.yaml'
  kubeflow_v2_runner.compile_kubeflow_pipeline(
      configs.PipelineConfig(
          data_root=DATA_ROOT, yamnet_handle='gs://models/yamnet',
          classes=esc50_classes.parse_classes('esc10')),
      str(output), pipeline_root=PIPELINE_ROOT)
  with open(output) as f:
    spec = json_format.ParseDict(yaml.safe_load(f),
                                 pipeline_spec_pb2.PipelineSpec())
  inputs = spec.root.input_definitions.parameters
  assert json.loads(inputs['classes'].default_value.string_value)[0] == 'dog'
  assert len(json.loads(inputs['classes'].default_value.string_value)) == 10
  containers = _executors(spec)
  assert containers['Trainer_executor'].container.image == (
      kubeflow_v2_runner.DEFAULT_IMAGE)
  # A gs:// model is not read at compile time; its handle identifies it.
  embed = spec.root.dag.tasks['YamnetEmbeddingGen'].inputs.parameters
  assert embed['yamnet_fingerprint'].runtime_value.constant.string_value == (
      'path:gs://models/yamnet')


def test_local_model_is_fingerprinted_at_compile_time(standin_yamnet):
  fingerprint = kubeflow_v2_runner.compile_time_fingerprint(standin_yamnet)
  assert fingerprint.startswith('sha256:')
  assert fingerprint == loader.yamnet_fingerprint(standin_yamnet)
