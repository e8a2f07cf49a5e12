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
from typing import Any, Dict, Optional

import yaml
from tfx.dsl.io import fileio
from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline import configs
from pipeline import pipeline as pipeline_def
from yamnet import loader

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
    config: configs.PipelineConfig,
    output_file: str,
    pipeline_root: str,
    image: str = DEFAULT_IMAGE,
    serving_model_dir: Optional[str] = None,
    yamnet_fingerprint: Optional[str] = None,
) -> Dict[str, Any]:
  """Writes the pipeline to output_file and returns it as a PipelineJob dict.

  A .yaml/.yml output holds the PipelineSpec that Kubeflow Pipelines uploads;
  any other name gets the PipelineJob JSON that Vertex AI submits.

  Args:
    config: What the pipeline does. Its data_root and classes become the
      defaults of the `data_root` and `classes` runtime parameters (classes
      as a JSON list such as ["dog", "cat"]); every other field is fixed at
      compile time, and config.output_dir is not used.
    output_file: Where to write the compiled pipeline.
    pipeline_root: Where the components write artifacts (e.g. gs://).
    image: Container image with this project installed.
    serving_model_dir: Where Pusher writes versions; defaults to
      <pipeline_root>/serving/<model_name>.
    yamnet_fingerprint: Overrides compile_time_fingerprint(handle).
  """
  parameters = {
      DATA_ROOT_PARAMETER: data_types.RuntimeParameter(
          name=DATA_ROOT_PARAMETER, ptype=str, default=config.data_root,
          description='ESC-50 folder holding meta/esc50.csv and audio/'),
      CLASSES_PARAMETER: data_types.RuntimeParameter(
          name=CLASSES_PARAMETER, ptype=str,
          default=json.dumps(list(config.classes)),
          description='JSON list of ESC-50 class names'),
  }
  deployment = pipeline_def.Deployment(
      pipeline_name=kubeflow_pipeline_name(config.model_name),
      pipeline_root=pipeline_root,
      serving_model_dir=(serving_model_dir or os.path.join(
          pipeline_root, 'serving', config.model_name)),
      beam_pipeline_args=config.beam_pipeline_args,
      schema_dir=image_path(pipeline_def.SCHEMA_DIR),
      data_root=parameters[DATA_ROOT_PARAMETER],
      classes=parameters[CLASSES_PARAMETER],
      baseline_of_same_classes=False)
  pipeline = pipeline_def.create_pipeline(
      config, yamnet_fingerprint or compile_time_fingerprint(
          config.yamnet_handle), deployment)
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
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
  with fileio.open(output_file, 'w') as f:
    if output_file.endswith(('.yaml', '.yml')):
      yaml.safe_dump(job['pipelineSpec'], f, sort_keys=True)
    else:
      json.dump(job, f, indent=2, sort_keys=True)
  return job
