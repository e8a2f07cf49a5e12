"""The pipeline's definition: node ids as named, one config for every runner,
and compiling without importing the module files."""

import dataclasses
import subprocess
import sys

import pytest

from components.atomic_pusher import executor as pusher_executor
from models import hyperparameters as hp
from pipeline import baseline
from pipeline import cli
from pipeline import configs
from pipeline import eval_models
from pipeline import nodes
from pipeline import options
from pipeline import pipeline as pipeline_def


@pytest.fixture(scope='module')
def config(tmp_path_factory):
  return configs.PipelineConfig(
      data_root='/data/esc50', yamnet_handle='/models/yamnet',
      output_dir=str(tmp_path_factory.mktemp('out')))


def _nodes_by_id(config, deployment=None):
  """The pipeline's nodes by id, under the given or the local deployment."""
  pipeline = pipeline_def.create_pipeline(
      config, 'fp', deployment or pipeline_def.local_deployment(config))
  return {node.id: node for node in pipeline.components}


def _last_line_printed(code: str) -> str:
  """The last line a fresh Python process running `code` prints."""
  return subprocess.run([sys.executable, '-c', code], capture_output=True,
                        text=True, check=True).stdout.strip().splitlines()[-1]


def test_node_ids_are_the_named_ones_in_order(config):
  """Every node has a named id, and the summary's order never lists a node
  before one it reads from."""
  pipeline = pipeline_def.create_pipeline(
      config, 'fp', pipeline_def.local_deployment(config))
  assert sorted(node.id for node in pipeline.components) == sorted(nodes.ORDER)
  for node in pipeline.components:
    for upstream in node.upstream_nodes:
      assert nodes.ORDER.index(upstream.id) < nodes.ORDER.index(node.id), (
          upstream.id, node.id)


def test_the_config_reaches_the_components(config):
  chosen = dataclasses.replace(
      config, embedding_batch_size=7, max_quarantine_fraction=0.2,
      hyperparameters=hp.Hyperparameters(epochs=3, learning_rate=0.01))
  by_id = _nodes_by_id(chosen)
  assert by_id[nodes.EMBEDDING_GEN].exec_properties['batch_size'] == 7
  assert by_id[nodes.EXAMPLE_GEN].exec_properties[
      'max_quarantine_fraction'] == 0.2
  custom = by_id[nodes.TRAINER].exec_properties['custom_config']
  assert hp.Hyperparameters.from_custom_config(
      __import__('json').loads(custom)) == chosen.hyperparameters


def test_both_evaluators_load_the_model_through_eval_models(config):
  by_id = _nodes_by_id(config)
  for node_id in (nodes.EVALUATOR, nodes.PATCH_EVALUATOR):
    assert by_id[node_id].exec_properties['module_path'] == (
        eval_models.__name__)


@pytest.mark.parametrize('export_tflite', [True, False])
def test_the_pusher_checks_tflite_models_on_the_test_folds_unless_told_not(
    config, export_tflite):
  chosen = dataclasses.replace(config, test_folds=(4, 5), eval_folds=(3,),
                               train_folds=(1, 2),
                               export_tflite=export_tflite)
  pusher = _nodes_by_id(chosen)[nodes.PUSHER]
  splits = pusher.exec_properties[pusher_executor.TFLITE_SPLITS_KEY]
  examples = pusher.inputs.get(pusher_executor.EXAMPLES_KEY)
  if export_tflite:
    assert __import__('json').loads(splits) == ['fold4', 'fold5']
    assert examples.producer_component_id == nodes.EXAMPLE_GEN
  else:
    assert splits is None and examples is None


@pytest.mark.parametrize('warm_start_epochs, same_classes_baseline',
                         [(5, True), (0, True), (5, False)])
def test_the_trainer_starts_from_the_warm_start_resolvers_model(
    config, warm_start_epochs, same_classes_baseline):
  """Wired where this project's resolver strategies compile and warm starts
  are on; elsewhere the Trainer has no base model."""
  chosen = dataclasses.replace(config, hyperparameters=hp.Hyperparameters(
      warm_start_epochs=warm_start_epochs))
  deployment = dataclasses.replace(
      pipeline_def.local_deployment(chosen),
      baseline_of_same_classes=same_classes_baseline)
  by_id = _nodes_by_id(chosen, deployment)
  base_model = by_id[nodes.TRAINER].inputs.get('base_model')
  if warm_start_epochs and same_classes_baseline:
    resolver = by_id[nodes.WARM_START_RESOLVER]
    assert base_model.producer_component_id == nodes.WARM_START_RESOLVER
    assert (resolver.raw_inputs[baseline.EXAMPLES].producer_component_id ==
            nodes.EXAMPLE_GEN)
  else:
    assert base_model is None and nodes.WARM_START_RESOLVER not in by_id


def test_overlapping_folds_are_refused():
  with pytest.raises(ValueError, match='overlap'):
    configs.PipelineConfig(data_root='x', train_folds=(1, 2), test_folds=(2,))


def test_every_setting_has_one_option():
  fields = {f.name for f in dataclasses.fields(configs.PipelineConfig)
            if f.name != 'hyperparameters'}
  fields |= {f'hyperparameters.{f.name}'
             for f in dataclasses.fields(hp.Hyperparameters)}
  assert set(options.ALL_FIELDS) == fields
  assert len({o.flag for o in options.OPTIONS}) == len(options.OPTIONS)
  assert len({o.env for o in options.OPTIONS}) == len(options.OPTIONS)


def test_each_runner_reaches_every_setting_it_uses():
  parser = cli.build_parser()
  commands = parser._subparsers._group_actions[0].choices  # pylint: disable=protected-access
  flags = {name: {flag for action in command._actions  # pylint: disable=protected-access
                  for flag in action.option_strings}
           for name, command in commands.items()}
  everything = {o.flag for o in options.OPTIONS}
  assert everything <= flags['run']
  # The demo makes its own data and YAMNet; Kubeflow writes to its pipeline
  # root, not an output folder.
  assert everything - {'--data-root', '--yamnet'} <= flags['demo']
  assert everything - {'--output'} <= flags['kubeflow']
  assert {options.BY_FIELD[f].flag for f in options.TRAINING_FIELDS} <= (
      flags['cv'])


def test_flag_over_environment_over_default():
  args = cli.build_parser().parse_args(
      ['run', '--min-accuracy', '0.8', '--no-refit', '--beam-arg=--a=1',
       '--beam-arg=--b=2'])
  environ = {'ESC50_ROOT': '/env/data', 'YAMNET_MIN_ACCURACY': '0.7',
             'YAMNET_EMBEDDING_BATCH_SIZE': '8', 'YAMNET_EPOCHS': '4',
             'YAMNET_CLASSES': 'esc10'}
  config = options.build_config(options.ALL_FIELDS, args, environ)
  assert config.data_root == '/env/data'
  assert config.min_accuracy == 0.8
  assert config.embedding_batch_size == 8
  assert config.hyperparameters == hp.Hyperparameters(epochs=4, refit=False)
  assert config.beam_pipeline_args == ('--a=1', '--b=2')
  assert len(config.classes) == 10
  assert config.test_folds == configs.default_of('test_folds')


def test_a_bad_environment_value_names_its_variable():
  with pytest.raises(ValueError, match='YAMNET_MIN_ACCURACY'):
    options.build_config(options.ALL_FIELDS, None,
                         {'YAMNET_MIN_ACCURACY': 'high'})


def test_building_and_compiling_do_not_import_the_module_files(tmp_path):
  """Kubeflow compiles and Airflow parses the DAG without the Trainer's and
  Transform's module files (Keras models, tf.Transform): only the Trainer
  and Transform import them, by name."""
  code = (
      'import sys\n'
      'from pipeline import configs, kubeflow_v2_runner, local_runner\n'
      'config = configs.PipelineConfig(data_root="/d", yamnet_handle="/y")\n'
      'local_runner.build_pipeline(config, "fp")\n'
      'kubeflow_v2_runner.compile_kubeflow_pipeline(\n'
      f'    config, {str(tmp_path / "p.json")!r}, pipeline_root="/r",\n'
      '    yamnet_fingerprint="fp")\n'
      'print(sorted(m for m in sys.modules if m.startswith("models")))\n')
  assert _last_line_printed(code) == "['models', 'models.hyperparameters']"


def test_no_runner_imports_tfx_v1_or_the_cloud_sdk_it_brings():
  """tfx.v1 imports TFX's Google Cloud AI Platform extension and its SDK;
  building, running, reporting and training import TFX's own modules
  instead, so no process of the pipeline's pays for that SDK."""
  code = (
      'import sys\n'
      'from pipeline import cli, cross_validation, kubeflow_v2_runner\n'
      'from pipeline import local_runner, report\n'
      'from models import model\n'
      'print(sorted(m for m in sys.modules if m == "tfx.v1" or\n'
      '             m.startswith("google.cloud.aiplatform")))\n')
  assert _last_line_printed(code) == '[]'
