"""The YAMNet transfer-learning pipeline, as one pure function of its config.

ExampleGen (ESC-50 CSV + wavs) -> YAMNet embeddings (Beam) -> Transform ->
Trainer (from the last blessed model's head when the data grew) ->
Evaluator (clip accuracy of the served computation, gated against a
threshold and the last blessed model; a patch-level Evaluator beside it) ->
ServingModelValidator (loads and runs the export as TF Serving would) ->
Pusher (atomic push in TF Serving's layout). Every orchestrator's runner calls
create_pipeline with the same PipelineConfig and says where the run keeps
things (a Deployment).
"""

import dataclasses
import os
from typing import Optional, Tuple, Union

import tensorflow_data_validation as tfdv
from ml_metadata.proto import metadata_store_pb2
# TFX's modules, not `tfx.v1`: importing tfx.v1 also imports its Google Cloud
# AI Platform extension and that SDK, which nothing here uses, into every
# process that builds or runs the pipeline.
from tfx.components import Evaluator
from tfx.components import ExampleValidator
from tfx.components import StatisticsGen
from tfx.components import Trainer
from tfx.components import Transform
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy
from tfx.orchestration import data_types
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import pusher_pb2
from tfx.proto import trainer_pb2
from tfx.proto import transform_pb2
from tfx.types import channel
from tfx.types import standard_artifacts

from components import beam_options
from components import splits
from components.atomic_pusher.component import AtomicPusher
from components.esc50_example_gen.component import Esc50ExampleGen
from components.model_validator.component import ServingModelValidator
from components.validation_gate.component import ValidationGate
from components.yamnet_embedding.component import YamnetEmbeddingGen
from models import hyperparameters as hp
from pipeline import baseline
from pipeline import configs
from pipeline import eval_configs
from pipeline import eval_models
from pipeline import nodes

# The curated schemas, as this checkout or installation holds them.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'schema')
EMBEDDING_SCHEMA = 'embeddings.pbtxt'
CLIP_SCHEMA = 'clips.pbtxt'
PREPROCESSING_FN = 'models.preprocessing.preprocessing_fn'
RUN_FN = 'models.model.run_fn'


@dataclasses.dataclass(frozen=True)
class Deployment:
  """How one orchestrator runs the pipeline: names, places, Beam arguments."""
  pipeline_name: str
  pipeline_root: str
  serving_model_dir: str
  # The config's Beam arguments as this orchestrator passes them.
  beam_pipeline_args: Tuple[str, ...] = ()
  # None: the orchestrator's own MLMD (Kubeflow, Vertex AI).
  metadata_connection_config: Optional[
      metadata_store_pb2.ConnectionConfig] = None
  # The schema folder as the machine running ImportSchemaGen sees it.
  schema_dir: str = SCHEMA_DIR
  # Runtime parameters (Kubeflow) set per run instead of the config's value;
  # classes as a JSON list.
  data_root: Optional[data_types.RuntimeParameter] = None
  classes: Optional[data_types.RuntimeParameter] = None
  # The gate's baseline must serve this run's classes, and the Trainer may
  # warm-start (pipeline/baseline.py); False where only TFX's own resolver
  # strategies compile (Kubeflow V2): any blessed baseline, no warm start.
  baseline_of_same_classes: bool = True


def local_deployment(config: configs.PipelineConfig) -> Deployment:
  """Everything under the config's output folder, MLMD in SQLite.

  For the DirectRunner the Beam arguments name this checkout's setup.py
  (components/beam_options.py says why).
  """
  return Deployment(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      beam_pipeline_args=tuple(
          beam_options.local_beam_args(config.beam_pipeline_args)),
      serving_model_dir=config.serving_model_dir,
      metadata_connection_config=metadata.sqlite_metadata_connection_config(
          config.metadata_path))


def _value(parameter: Optional[data_types.RuntimeParameter],
           value) -> Union[str, data_types.RuntimeParameter]:
  return value if parameter is None else parameter


def _ingestion(config: configs.PipelineConfig, yamnet_fingerprint: str,
               deployment: Deployment):
  """ExampleGen and the embedding step: the nodes every pipeline starts with."""
  example_gen = Esc50ExampleGen(
      data_root=_value(deployment.data_root, config.data_root),
      classes=_value(deployment.classes, config.classes),
      max_quarantine_fraction=config.max_quarantine_fraction,
      span_window=config.span_window,
  ).with_id(nodes.EXAMPLE_GEN)
  embedding_gen = YamnetEmbeddingGen(
      examples=example_gen.outputs['examples'],
      yamnet_handle=config.yamnet_handle,
      yamnet_fingerprint=yamnet_fingerprint,
      batch_size=config.embedding_batch_size).with_id(nodes.EMBEDDING_GEN)
  return example_gen, embedding_gen


def _pipeline(config: configs.PipelineConfig, deployment: Deployment,
              components) -> tfx_pipeline.Pipeline:
  return tfx_pipeline.Pipeline(
      pipeline_name=deployment.pipeline_name,
      pipeline_root=deployment.pipeline_root,
      components=components,
      enable_cache=config.enable_cache,
      metadata_connection_config=deployment.metadata_connection_config,
      beam_pipeline_args=list(deployment.beam_pipeline_args))


def create_embedding_pipeline(config: configs.PipelineConfig,
                              yamnet_fingerprint: str,
                              deployment: Deployment) -> tfx_pipeline.Pipeline:
  """The pipeline's first two nodes alone: what cross-validation embeds with."""
  return _pipeline(config, deployment,
                   list(_ingestion(config, yamnet_fingerprint, deployment)))


def _data_validation(example_gen, embedding_gen, deployment: Deployment):
  """Clip-level facts and embeddings checked against the curated schemas; the
  gate (the last node returned) stops the run before Transform when either
  has an anomaly."""
  clip_schema = ImportSchemaGen(
      schema_file=os.path.join(deployment.schema_dir, CLIP_SCHEMA)
  ).with_id(nodes.CLIP_SCHEMA)
  # Reads only the features the clip schema names, so the audio in every
  # clip Example is not decoded for statistics nobody validates.
  clip_statistics = StatisticsGen(
      examples=example_gen.outputs['examples'],
      schema=clip_schema.outputs['schema'],
      stats_options=tfdv.StatsOptions(experimental_filter_read_paths=True),
  ).with_id(nodes.CLIP_STATISTICS)
  clip_validator = ExampleValidator(
      statistics=clip_statistics.outputs['statistics'],
      schema=clip_schema.outputs['schema']).with_id(nodes.CLIP_VALIDATOR)
  schema_gen = ImportSchemaGen(
      schema_file=os.path.join(deployment.schema_dir, EMBEDDING_SCHEMA)
  ).with_id(nodes.EMBEDDING_SCHEMA)
  embedding_statistics = StatisticsGen(
      examples=embedding_gen.outputs['embeddings'],
  ).with_id(nodes.EMBEDDING_STATISTICS)
  embedding_validator = ExampleValidator(
      statistics=embedding_statistics.outputs['statistics'],
      schema=schema_gen.outputs['schema']).with_id(nodes.EMBEDDING_VALIDATOR)
  validation_gate = ValidationGate(
      schema=schema_gen.outputs['schema'],
      clip_anomalies=clip_validator.outputs['anomalies'],
      embedding_anomalies=embedding_validator.outputs['anomalies'],
  ).with_id(nodes.VALIDATION_GATE)
  return [clip_schema, clip_statistics, clip_validator, schema_gen,
          embedding_statistics, embedding_validator, validation_gate]


def _training(config: configs.PipelineConfig, deployment: Deployment,
              example_gen, embedding_gen, validation_gate):
  """Transform (vocabulary on the train folds), the resolver of the model the
  head starts from (None where it cannot be), and the Trainer."""
  train_splits = splits.fold_split_names(config.train_folds)
  eval_splits = splits.fold_split_names(config.eval_folds)
  test_splits = splits.fold_split_names(config.test_folds)
  transform = Transform(
      examples=embedding_gen.outputs['embeddings'],
      schema=validation_gate.outputs['validated_schema'],
      preprocessing_fn=PREPROCESSING_FN,
      splits_config=transform_pb2.SplitsConfig(
          analyze=train_splits,
          transform=train_splits + eval_splits + test_splits),
      # The embeddings' statistics are computed and validated before
      # Transform (embedding_statistics, the ValidationGate); with Transform's
      # own pre- and post-transform statistics on, its analysis would read
      # every embedding instead of the labels alone, and it would make two
      # more passes of TFDV over the data that nothing reads.
      disable_statistics=True,
  ).with_id(nodes.TRANSFORM)
  # The warm start needs this project's resolver strategy, which Kubeflow V2
  # does not compile; there every run trains from fresh weights.
  warm_start = None
  if (config.hyperparameters.warm_start_epochs and
      deployment.baseline_of_same_classes):
    warm_start = _blessed_model_resolver(
        baseline.WarmStartModelStrategy, nodes.WARM_START_RESOLVER,
        example_gen)
  trainer = Trainer(
      run_fn=RUN_FN,
      examples=transform.outputs['transformed_examples'],
      base_model=warm_start.outputs['model'] if warm_start else None,
      transform_graph=transform.outputs['transform_graph'],
      schema=validation_gate.outputs['validated_schema'],
      train_args=trainer_pb2.TrainArgs(splits=train_splits),
      eval_args=trainer_pb2.EvalArgs(splits=eval_splits),
      custom_config={hp.YAMNET_HANDLE_KEY: config.yamnet_handle,
                     hp.MAX_AUDIO_SECONDS_KEY: config.max_audio_seconds,
                     **config.hyperparameters.to_custom_config()},
  ).with_id(nodes.TRAINER)
  return transform, warm_start, trainer


def _blessed_model_channels():
  return {
      baseline.MODEL: channel.Channel(type=standard_artifacts.Model),
      baseline.MODEL_BLESSING: channel.Channel(
          type=standard_artifacts.ModelBlessing)}


def _blessed_model_resolver(strategy_class, node_id: str, example_gen):
  """A resolver of blessed models that sees this run's clips."""
  return Resolver(
      strategy_class=strategy_class, **_blessed_model_channels(),
      **{baseline.EXAMPLES: example_gen.outputs['examples']}).with_id(node_id)


def _baseline_resolver(deployment: Deployment, example_gen):
  """The last blessed model, which the gate compares the new one with."""
  if deployment.baseline_of_same_classes:
    return _blessed_model_resolver(baseline.SameClassesBlessedModelStrategy,
                                   nodes.MODEL_RESOLVER, example_gen)
  return Resolver(
      strategy_class=(
          latest_blessed_model_strategy.LatestBlessedModelStrategy),
      **_blessed_model_channels()).with_id(nodes.MODEL_RESOLVER)


def _release(config: configs.PipelineConfig, deployment: Deployment,
             example_gen, transform, trainer):
  """The Evaluators, the serving check and the push they gate."""
  test_splits = splits.fold_split_names(config.test_folds)
  model_resolver = _baseline_resolver(deployment, example_gen)
  # The gate: clip level, on ExampleGen's clips, against the last blessed.
  evaluator = Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=model_resolver.outputs['model'],
      example_splits=test_splits,
      eval_config=eval_configs.clip_eval_config(config.min_accuracy),
      module_path=eval_models.__name__,
  ).with_id(nodes.EVALUATOR)
  patch_evaluator = Evaluator(
      examples=transform.outputs['transformed_examples'],
      model=trainer.outputs['model'],
      example_splits=test_splits,
      eval_config=eval_configs.patch_eval_config(),
      module_path=eval_models.__name__,
  ).with_id(nodes.PATCH_EVALUATOR)
  serving_validator = ServingModelValidator(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
  ).with_id(nodes.SERVING_VALIDATOR)
  pusher = AtomicPusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      infra_blessing=serving_validator.outputs['blessing'],
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(
              base_directory=deployment.serving_model_dir)),
      # The TFLite models are checked on the gate's test clips.
      examples=(example_gen.outputs['examples'] if config.export_tflite
                else None),
      tflite_splits=test_splits if config.export_tflite else (),
  ).with_id(nodes.PUSHER)
  return [model_resolver, evaluator, patch_evaluator, serving_validator,
          pusher]


def create_pipeline(config: configs.PipelineConfig, yamnet_fingerprint: str,
                    deployment: Deployment) -> tfx_pipeline.Pipeline:
  """Builds the pipeline; it reads nothing and has no side effects.

  yamnet_fingerprint identifies the YAMNet weights (yamnet/loader.py); it is
  recorded with the embeddings, so another model never reuses them.
  """
  example_gen, embedding_gen = _ingestion(config, yamnet_fingerprint,
                                          deployment)
  *checks, validation_gate = _data_validation(example_gen, embedding_gen,
                                              deployment)
  transform, warm_start, trainer = _training(
      config, deployment, example_gen, embedding_gen, validation_gate)
  return _pipeline(config, deployment, [
      example_gen, embedding_gen, *checks, validation_gate, transform,
      *([warm_start] if warm_start else []), trainer,
      *_release(config, deployment, example_gen, transform, trainer)])
