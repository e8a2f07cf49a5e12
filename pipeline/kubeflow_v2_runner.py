"""Compiles the pipeline for Kubeflow Pipelines V2 and Vertex AI Pipelines.

Every component runs in the project's image (the repo's Dockerfile), where TFX
starts the executor with its own container command. The data root and the
classes are runtime parameters, set per run. Everything else, including the
Evaluator's accuracy threshold, is fixed when compiling: TFX 1.16 substitutes
a RuntimeParameter only when it is a whole execution property, and the
threshold sits inside the EvalConfig proto.
"""

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml
from tfx import v1 as tfx

from components.yamnet import loader
from data import esc50_classes
from pipeline import pipeline as pipeline_def

DEFAULT_IMAGE = 'ghcr.io/yamnet-audio-pipeline/pipeline:latest'
DATA_ROOT_PARAMETER = 'data_root'
CLASSES_PARAMETER = 'classes'
# Where the Dockerfile's `pip install .` puts the project's packages.
IMAGE_SITE_PACKAGES = '/usr/local/lib/python3.10/site-packages'


def image_path(packaged_file: str) -> str:
  """Where a file this project installs (package data) is inside the image."""
  package_parent = os.path.dirname(os.path.dirname(pipeline_def.__file__))
  return os.path.join(IMAGE_SITE_PACKAGES,
                      os.path.relpath(packaged_file, package_parent))


def compile_time_fingerprint(yamnet_handle: str) -> str:
  """The YAMNet fingerprint recorded with the embeddings.

  A TF Hub URL, or a SavedModel directory that exists on this machine, gets
  loader.yamnet_fingerprint. Any other handle (gs://, a path that exists only
  in the image) is not read here, so the handle itself is the identity: put a
  changed model under a new path, or cached embeddings of the old one are
  reused.
  """
  if yamnet_handle.startswith(('http://', 'https://')) or os.path.isdir(
      yamnet_handle):
    return loader.yamnet_fingerprint(yamnet_handle)
  return f'path:{yamnet_handle}'


def kubeflow_pipeline_name(model_name: str) -> str:
  """Vertex AI allows only lowercase letters, digits and '-' in names."""
  return f'yamnet-{model_name}'.lower().replace('_', '-')


def compile_kubeflow_pipeline(
    output_file: str,
    data_root: str,
    yamnet_handle: str,
    pipeline_root: str,
    classes: Union[str, Sequence[str]] = esc50_classes.DEFAULT_CLASSES,
    image: str = DEFAULT_IMAGE,
    model_name: str = 'sound_classifier',
    serving_model_dir: Optional[str] = None,
    yamnet_fingerprint: Optional[str] = None,
    train_folds: Sequence[int] = (1, 2, 3),
    eval_folds: Sequence[int] = (4,),
    test_folds: Sequence[int] = (5,),
    min_accuracy: float = 0.6,
    max_quarantine_fraction: float = 0.05,
    hyperparameters: Optional[Dict[str, Any]] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> Dict[str, Any]:
  """Writes the pipeline to output_file and returns it as a PipelineJob dict.

  A .yaml/.yml output holds the PipelineSpec that Kubeflow Pipelines uploads;
  any other name gets the PipelineJob JSON that Vertex AI submits.

  Args:
    output_file: Where to write the compiled pipeline.
    data_root: Default of the `data_root` runtime parameter; an ESC-50 folder
      the containers can read (e.g. gs://).
    yamnet_handle: YAMNet TF Hub URL or SavedModel path readable by the
      containers.
    pipeline_root: Where the components write artifacts (e.g. gs://).
    classes: Default of the `classes` runtime parameter, in any form
      esc50_classes.parse_classes takes; per run it is a JSON list such as
      ["dog", "cat"].
    image: Container image with this project installed.
    model_name: Names the pipeline and the pushed model's folder.
    serving_model_dir: Where Pusher writes versions; defaults to
      <pipeline_root>/serving/<model_name>.
    yamnet_fingerprint: Overrides compile_time_fingerprint(yamnet_handle).
    train_folds: As for create_pipeline.
    eval_folds: As for create_pipeline.
    test_folds: As for create_pipeline.
    min_accuracy: Evaluator threshold, fixed at compile time.
    max_quarantine_fraction: As for create_pipeline.
    hyperparameters: Trainer hyperparameters, e.g. {'epochs': 20}.
    beam_pipeline_args: Passed to every Beam-based component's container.
    enable_cache: Whether Kubeflow may reuse results of identical tasks.
  """
  classes = esc50_classes.parse_classes(classes)
  parameters = {
      DATA_ROOT_PARAMETER: tfx.dsl.experimental.RuntimeParameter(
          name=DATA_ROOT_PARAMETER, ptype=str, default=data_root,
          description='ESC-50 folder holding meta/esc50.csv and audio/'),
      CLASSES_PARAMETER: tfx.dsl.experimental.RuntimeParameter(
          name=CLASSES_PARAMETER, ptype=str, default=json.dumps(classes),
          description='JSON list of ESC-50 class names'),
  }
  pipeline = pipeline_def.create_pipeline(
      pipeline_name=kubeflow_pipeline_name(model_name),
      pipeline_root=pipeline_root,
      data_root=parameters[DATA_ROOT_PARAMETER],
      yamnet_handle=yamnet_handle,
      yamnet_fingerprint=(yamnet_fingerprint or
                          compile_time_fingerprint(yamnet_handle)),
      classes=parameters[CLASSES_PARAMETER],
      serving_model_dir=(serving_model_dir or
                         os.path.join(pipeline_root, 'serving', model_name)),
      train_folds=train_folds,
      eval_folds=eval_folds,
      test_folds=test_folds,
      min_accuracy=min_accuracy,
      max_quarantine_fraction=max_quarantine_fraction,
      hyperparameters=hyperparameters,
      beam_pipeline_args=beam_pipeline_args,
      enable_cache=enable_cache,
      schema_file=image_path(pipeline_def.SCHEMA_FILE),
      clip_schema_file=image_path(pipeline_def.CLIP_SCHEMA_FILE))
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=image, use_pipeline_spec_2_1=True))
  job = runner.run(
      pipeline,
      parameter_values={name: p.default for name, p in parameters.items()},
      write_out=False)
  # TFX puts defaults only in the job's runtimeConfig; a spec uploaded to
  # Kubeflow Pipelines needs them in its own input definitions.
  inputs = job['pipelineSpec']['root']['inputDefinitions']['parameters']
  for name, parameter in parameters.items():
    inputs[name]['defaultValue'] = parameter.default
    inputs[name]['description'] = parameter.description
  with tfx.dsl.io.fileio.open(output_file, 'w') as f:
    if output_file.endswith(('.yaml', '.yml')):
      yaml.safe_dump(job['pipelineSpec'], f, sort_keys=True)
    else:
      json.dump(job, f, indent=2, sort_keys=True)
  return job
