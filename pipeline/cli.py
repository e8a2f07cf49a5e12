"""`yamnet-pipeline`: the project's command line.

Heavy imports (TensorFlow, TFX) happen inside each subcommand, so `--help` and
argument errors answer at once. The pipeline's settings are the options of
pipeline/options.py, declared there once for every subcommand.
"""

import argparse
import dataclasses
import json
import logging
import os
import sys
from typing import Optional, Sequence

from pipeline import configs
from pipeline import options
from pipeline import serving_commands

# Fields each subcommand takes; `run` takes them all.
_DEMO_FIELDS = tuple(f for f in options.ALL_FIELDS
                     if f not in ('data_root', 'yamnet_handle'))
_KUBEFLOW_FIELDS = tuple(f for f in options.ALL_FIELDS if f != 'output_dir')
_CV_FIELDS = ('data_root', 'yamnet_handle', 'classes', 'output_dir',
              'max_quarantine_fraction', 'embedding_batch_size',
              'beam_pipeline_args', 'enable_cache') + options.TRAINING_FIELDS
DEMO_OUTPUT = os.path.join(configs.DEFAULT_OUTPUT_DIR, 'demo')
CV_OUTPUT = os.path.join(configs.DEFAULT_OUTPUT_DIR, 'cv')


def _add_run(commands) -> None:
  run = commands.add_parser(
      'run', help='run the whole pipeline locally (LocalDagRunner)',
      description='Run ExampleGen -> embeddings -> Transform -> Trainer -> '
      'Evaluator -> Pusher on this machine. The model lands in '
      '<output>/serving/<model_name>/<version>/.')
  options.add_flags(run, options.ALL_FIELDS)
  run.add_argument('--summary-json', metavar='FILE',
                   help='also write the run summary as JSON to FILE')


def _add_demo(commands) -> None:
  demo = commands.add_parser(
      'demo', help='run the same pipeline offline on synthetic data',
      description='Write synthetic ESC-50 clips and a YAMNet-shaped stand-in '
      'model with random weights, then run the pipeline on them.')
  options.add_flags(demo, _DEMO_FIELDS, defaults={'output_dir': DEMO_OUTPUT})
  demo.add_argument('--clips-per-class-per-fold', type=int, default=4,
                    help='synthetic clips per class and fold (default: 4)')
  demo.add_argument('--seed', type=int, default=0,
                    help='seed of the synthetic clips and the stand-in '
                    'YAMNet (default: 0)')
  demo.add_argument('--summary-json', metavar='FILE',
                    help='also write the run summary as JSON to FILE')


def _add_kubeflow(commands) -> None:
  kubeflow = commands.add_parser(
      'kubeflow', help='compile the pipeline for Kubeflow Pipelines V2 / '
      'Vertex AI Pipelines',
      description='Write the pipeline as a PipelineJob JSON (Vertex AI) or, '
      'for a .yaml output, a PipelineSpec (Kubeflow Pipelines). data_root and '
      'classes are runtime parameters whose defaults are the flags below; the '
      'other settings are fixed at compile time. See docs/orchestration.md.')
  kubeflow.add_argument('--output', required=True, metavar='FILE',
                        help='FILE.json or FILE.yaml to write')
  kubeflow.add_argument('--pipeline-root', required=True, metavar='URI',
                        help='where components write artifacts, e.g. '
                        'gs://bucket/yamnet')
  kubeflow.add_argument('--yamnet-fingerprint',
                        help='identity of the YAMNet weights (default: '
                        'computed for a URL or local SavedModel, else the '
                        'handle itself)')
  kubeflow.add_argument('--image',
                        help='container image with this project installed '
                        '(default: DEFAULT_IMAGE in '
                        'pipeline/kubeflow_v2_runner.py)')
  kubeflow.add_argument('--serving-model-dir', metavar='URI',
                        help='where Pusher writes model versions (default: '
                        '<pipeline-root>/serving/<model-name>)')
  options.add_flags(kubeflow, _KUBEFLOW_FIELDS)


def _add_cv(commands) -> None:
  cv = commands.add_parser(
      'cv', help='5-fold cross-validation of the head and a linear probe',
      description="ESC-50's 5-fold protocol: embed the clips once (cached "
      'under --output), then per held-out fold train the pipeline\'s head '
      '(early stopping on the previous fold) and a logistic-regression probe '
      'on the other folds; prints clip accuracy per fold and class. See '
      'docs/evaluation.md.')
  options.add_flags(cv, _CV_FIELDS, defaults={'output_dir': CV_OUTPUT})
  cv.add_argument('--json', action='store_true',
                  help='print the results as one JSON object')


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='yamnet-pipeline',
      description='ESC-50 -> YAMNet embeddings -> sound classifier served by '
      'TensorFlow Serving, as a TFX pipeline. Each setting is a flag, else '
      'its environment variable, else its default.')
  commands = parser.add_subparsers(dest='command', required=True)
  _add_run(commands)
  _add_demo(commands)
  download = commands.add_parser(
      'download-esc50', help='download and extract the ESC-50 dataset')
  download.add_argument('--to', required=True, metavar='DIR',
                        help='folder to download into')
  download.add_argument('--sha256', help='expected sha256 of the archive')
  serving_commands.add_parsers(commands)
  _add_kubeflow(commands)
  _add_cv(commands)
  return parser


class MissingDataRootError(ValueError):
  """No data root was given: nothing to run the pipeline on."""


def _config(args, fields: Sequence[str], output_dir: Optional[str] = None,
            **fixed) -> configs.PipelineConfig:
  """The config the flags and environment give, its data root required.

  output_dir is the command's own default output folder, if it has one.
  """
  config = options.build_config(
      fields, args, defaults={'output_dir': output_dir} if output_dir else {},
      **fixed)
  if not config.data_root:
    option = options.BY_FIELD['data_root']
    raise MissingDataRootError(
        f'{option.flag} (or ${option.env}) is required; `yamnet-pipeline '
        'download-esc50 --to DIR` fetches ESC-50')
  if '://' in config.data_root:
    return config
  return dataclasses.replace(config,
                             data_root=os.path.abspath(config.data_root))


def _local(config: configs.PipelineConfig) -> configs.PipelineConfig:
  return dataclasses.replace(config,
                             output_dir=os.path.abspath(config.output_dir))


def _run_pipeline(config: configs.PipelineConfig,
                  summary_json: Optional[str]) -> int:
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  try:
    summary = local_runner.run_local(config)
  except Exception as error:  # pylint: disable=broad-except
    summary = local_runner.latest_summary(config)
    if summary:
      run_summary.write_summary_json(
          dataclasses.replace(summary, status='failed', error=str(error)),
          summary_json)
    print(f'yamnet-pipeline: the pipeline failed: {error}', file=sys.stderr)
    return 1
  print(run_summary.format_summary(summary))
  run_summary.write_summary_json(summary, summary_json)
  return 0


def _cmd_run(args) -> int:
  return _run_pipeline(_local(_config(args, options.ALL_FIELDS)),
                       args.summary_json)


def _cmd_demo(args) -> int:
  from pipeline import demo  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  config = _local(options.build_config(
      _DEMO_FIELDS, args, defaults={'output_dir': DEMO_OUTPUT}))
  local_runner.set_tf_threads()  # Building the stand-in YAMNet starts TF.
  data_root, yamnet_dir = demo.prepare_demo_inputs(
      config.output_dir, config.classes, args.clips_per_class_per_fold,
      args.seed)
  return _run_pipeline(
      dataclasses.replace(config, data_root=data_root,
                          yamnet_handle=yamnet_dir), args.summary_json)


def _cmd_download(args) -> int:
  from data import esc50_download  # pylint: disable=g-import-not-at-top
  try:
    root = esc50_download.download_esc50(
        args.to, expected_sha256=args.sha256,
        progress=esc50_download.print_progress)
  except (esc50_download.DownloadError, OSError) as error:
    print(f'yamnet-pipeline download-esc50: {error}', file=sys.stderr)
    return 1
  print(root)
  return 0


def _cmd_kubeflow(args) -> int:
  from pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  kubeflow_v2_runner.compile_kubeflow_pipeline(
      _config(args, _KUBEFLOW_FIELDS), output_file=args.output,
      pipeline_root=args.pipeline_root,
      image=args.image or kubeflow_v2_runner.DEFAULT_IMAGE,
      serving_model_dir=args.serving_model_dir,
      yamnet_fingerprint=args.yamnet_fingerprint)
  print(args.output)
  return 0


def _cmd_cv(args) -> int:
  from pipeline import cross_validation  # pylint: disable=g-import-not-at-top
  config = cross_validation.cv_config(
      _local(_config(args, _CV_FIELDS, output_dir=CV_OUTPUT)))
  try:
    result = cross_validation.cross_validate(config)
  except (RuntimeError, OSError) as error:
    print(f'yamnet-pipeline cv: {error}', file=sys.stderr)
    return 1
  print(json.dumps(result, sort_keys=True) if args.json else
        cross_validation.format_result(result))
  return 0


_COMMANDS = {'run': _cmd_run, 'demo': _cmd_demo,
             'download-esc50': _cmd_download,
             **serving_commands.COMMANDS,
             'kubeflow': _cmd_kubeflow, 'cv': _cmd_cv}


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  try:
    return _COMMANDS[args.command](args)
  except ValueError as error:
    print(f'yamnet-pipeline {args.command}: {error}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
