"""`yamnet-pipeline`: the project's command line.

Heavy imports (TensorFlow, TFX) happen inside each subcommand, so `--help` and
argument errors answer at once.
"""

import argparse
import json
import logging
import os
import sys
from typing import List, Optional, Sequence

DEFAULT_OUTPUT = 'outputs'
DEFAULT_MODEL_NAME = 'sound_classifier'


def _folds(text: str) -> List[int]:
  try:
    return [int(x) for x in text.split(',') if x.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated fold numbers, got {text!r}') from None


def _existing_path(text: str) -> str:
  if not os.path.exists(text):
    raise argparse.ArgumentTypeError(f'{text} does not exist')
  return text


def _fraction(text: str) -> float:
  value = float(text)
  if not 0.0 <= value <= 1.0:
    raise argparse.ArgumentTypeError(f'expected a value in [0, 1], got {text}')
  return value


def _add_pipeline_flags(parser: argparse.ArgumentParser,
                        local: bool = True) -> None:
  """Flags shared by `run`, `demo` and (without the local ones) `kubeflow`."""
  parser.add_argument('--classes', default='dog,cat',
                      help='comma-separated ESC-50 classes, "esc10" or "all" '
                      '(default: dog,cat)')
  parser.add_argument('--model-name', default=DEFAULT_MODEL_NAME,
                      help='name of the model under <output>/serving/ '
                      f'(default: {DEFAULT_MODEL_NAME})')
  parser.add_argument('--train-folds', type=_folds, default=[1, 2, 3],
                      help='folds to train on (default: 1,2,3)')
  parser.add_argument('--eval-folds', type=_folds, default=[4],
                      help='folds for early stopping (default: 4)')
  parser.add_argument('--test-folds', type=_folds, default=[5],
                      help='folds the Evaluator gates on (default: 5)')
  parser.add_argument('--min-accuracy', type=_fraction, default=0.6,
                      help='lowest test-fold clip accuracy (overall) that may '
                      'be pushed (default: 0.6)')
  parser.add_argument('--max-quarantine-fraction', type=_fraction,
                      default=0.05,
                      help='fail the run when more than this fraction of clips '
                      'is unusable (default: 0.05)')
  parser.add_argument('--epochs', type=int, default=20,
                      help='maximum training epochs; early stopping usually '
                      'ends sooner (default: 20)')
  parser.add_argument('--beam-arg', action='append', default=[],
                      metavar='ARG',
                      help='Beam pipeline argument, repeatable, e.g. '
                      '--beam-arg=--direct_running_mode=multi_processing')
  parser.add_argument('--no-cache', action='store_true',
                      help='rerun every component even if its inputs are '
                      'unchanged')
  if local:
    parser.add_argument('--summary-json', metavar='FILE',
                        help='also write the run summary as JSON to FILE')


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='yamnet-pipeline',
      description='ESC-50 -> YAMNet embeddings -> sound classifier served by '
      'TensorFlow Serving, as a TFX pipeline.')
  commands = parser.add_subparsers(dest='command', required=True)

  run = commands.add_parser(
      'run', help='run the whole pipeline locally (LocalDagRunner)',
      description='Run ExampleGen -> embeddings -> Transform -> Trainer -> '
      'Evaluator -> Pusher on this machine. The model lands in '
      '<output>/serving/<model_name>/<version>/.')
  run.add_argument('--data-root', default=os.environ.get('ESC50_ROOT'),
                   help='ESC-50 folder holding meta/esc50.csv and audio/ '
                   '(default: $ESC50_ROOT)')
  from_env = os.environ.get('YAMNET_HANDLE')
  run.add_argument('--yamnet', default=from_env,
                   help='YAMNet TF Hub URL or SavedModel path (default: '
                   '$YAMNET_HANDLE, else https://tfhub.dev/google/yamnet/1)')
  run.add_argument('--output', default=DEFAULT_OUTPUT,
                   help=f'output directory (default: {DEFAULT_OUTPUT})')
  _add_pipeline_flags(run)

  demo = commands.add_parser(
      'demo', help='run the same pipeline offline on synthetic data',
      description='Write synthetic ESC-50 clips and a YAMNet-shaped stand-in '
      'model with random weights, then run the pipeline on them.')
  demo.add_argument('--output', default=os.path.join(DEFAULT_OUTPUT, 'demo'),
                    help='output directory (default: outputs/demo)')
  demo.add_argument('--clips-per-class-per-fold', type=int, default=4,
                    help='synthetic clips per class and fold (default: 4)')
  demo.add_argument('--seed', type=int, default=0)
  _add_pipeline_flags(demo)

  download = commands.add_parser(
      'download-esc50', help='download and extract the ESC-50 dataset')
  download.add_argument('--to', required=True, metavar='DIR',
                        help='folder to download into')
  download.add_argument('--sha256', help='expected sha256 of the archive')

  predict = commands.add_parser(
      'predict', help='classify wav files with a pushed model, loaded here '
      'or served by TensorFlow Serving',
      description='Classify wav files with a pushed model: --model loads it '
      'in this process; --server sends the files to TensorFlow Serving '
      '(serving_wav signature), see docs/serving.md.')
  source = predict.add_mutually_exclusive_group(required=True)
  source.add_argument('--model', type=_existing_path, metavar='DIR',
                      help='a pushed version folder or the model base folder '
                      '(newest version used)')
  source.add_argument('--server', metavar='URL',
                      help='TF Serving: http://host:8501 (REST) or '
                      'grpc://host:8500 (gRPC)')
  predict.add_argument('--model-name', default=DEFAULT_MODEL_NAME,
                       help='model name on the server (default: '
                       f'{DEFAULT_MODEL_NAME})')
  predict.add_argument('--model-version', type=int, metavar='N',
                       help='version on the server (default: the newest it '
                       'serves)')
  predict.add_argument('files', nargs='+', metavar='FILE.wav')
  predict.add_argument('--json', action='store_true',
                       help='print one JSON object per file')

  kubeflow = commands.add_parser(
      'kubeflow', help='compile the pipeline for Kubeflow Pipelines V2 / '
      'Vertex AI Pipelines',
      description='Write the pipeline as a PipelineJob JSON (Vertex AI) or, '
      'for a .yaml output, a PipelineSpec (Kubeflow Pipelines). data_root and '
      'classes are runtime parameters whose defaults are the flags below; the '
      'other flags are fixed at compile time. See docs/orchestration.md.')
  kubeflow.add_argument('--output', required=True, metavar='FILE',
                        help='FILE.json or FILE.yaml to write')
  kubeflow.add_argument('--pipeline-root', required=True, metavar='URI',
                        help='where components write artifacts, e.g. '
                        'gs://bucket/yamnet')
  kubeflow.add_argument('--data-root', default=os.environ.get('ESC50_ROOT'),
                        help='default of the data_root runtime parameter: an '
                        'ESC-50 folder the containers can read (default: '
                        '$ESC50_ROOT)')
  kubeflow.add_argument('--yamnet', default=from_env,
                        help='YAMNet TF Hub URL or SavedModel path the '
                        'containers can read (default: $YAMNET_HANDLE, else '
                        'https://tfhub.dev/google/yamnet/1)')
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
  _add_pipeline_flags(kubeflow, local=False)

  cv = commands.add_parser(
      'cv', help='5-fold cross-validation of the head and a linear probe',
      description="ESC-50's 5-fold protocol: embed the clips once (cached "
      'under --output), then per held-out fold train the pipeline\'s head '
      '(early stopping on the previous fold) and a logistic-regression probe '
      'on the other folds; prints clip accuracy per fold and class. See '
      'docs/evaluation.md.')
  cv.add_argument('--data-root', default=os.environ.get('ESC50_ROOT'),
                  help='ESC-50 folder (default: $ESC50_ROOT)')
  cv.add_argument('--yamnet', default=from_env,
                  help='YAMNet TF Hub URL or SavedModel path (default: '
                  '$YAMNET_HANDLE, else https://tfhub.dev/google/yamnet/1)')
  cv.add_argument('--classes', default='dog,cat',
                  help='comma-separated ESC-50 classes, "esc10" or "all" '
                  '(default: dog,cat)')
  cv.add_argument('--output', default=os.path.join(DEFAULT_OUTPUT, 'cv'),
                  help='output directory; embeddings are cached there '
                  '(default: outputs/cv)')
  cv.add_argument('--epochs', type=int, default=20,
                  help='maximum training epochs per fold (default: 20)')
  cv.add_argument('--json', action='store_true',
                  help='print the results as one JSON object')
  return parser


def _pipeline_options(args) -> dict:
  """What `run` and `kubeflow` pass alike to the pipeline's configuration."""
  return dict(
      model_name=args.model_name,
      train_folds=args.train_folds,
      eval_folds=args.eval_folds,
      test_folds=args.test_folds,
      min_accuracy=args.min_accuracy,
      max_quarantine_fraction=args.max_quarantine_fraction,
      hyperparameters={'epochs': args.epochs},
      beam_pipeline_args=list(args.beam_arg),
      enable_cache=not args.no_cache)


def _run_config(args, data_root: str, yamnet_handle: str):
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  return local_runner.RunConfig(
      data_root=os.path.abspath(data_root),
      yamnet_handle=yamnet_handle,
      classes=esc50_classes.parse_classes(args.classes),
      output_dir=os.path.abspath(args.output),
      **_pipeline_options(args))


def _run_pipeline(config, summary_json: Optional[str]) -> int:
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  try:
    summary = local_runner.run_local(config)
  except Exception as error:  # pylint: disable=broad-except
    summary = local_runner.latest_summary(config)
    if summary:
      summary['status'] = 'failed'
      summary['error'] = str(error)
      run_summary.write_summary_json(summary, summary_json)
    print(f'yamnet-pipeline: the pipeline failed: {error}', file=sys.stderr)
    return 1
  print(run_summary.format_summary(summary))
  run_summary.write_summary_json(summary, summary_json)
  return 0


def _cmd_run(args) -> int:
  from components.yamnet import loader  # pylint: disable=g-import-not-at-top
  config = _run_config(args, args.data_root,
                       args.yamnet or loader.DEFAULT_YAMNET_HANDLE)
  return _run_pipeline(config, args.summary_json)


def _cmd_demo(args) -> int:
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import demo  # pylint: disable=g-import-not-at-top
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  output = os.path.abspath(args.output)
  local_runner.set_tf_threads()  # Building the stand-in YAMNet starts TF.
  data_root, yamnet_dir = demo.prepare_demo_inputs(
      output, esc50_classes.parse_classes(args.classes),
      args.clips_per_class_per_fold, args.seed)
  return _run_pipeline(_run_config(args, data_root, yamnet_dir),
                       args.summary_json)


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


def _cmd_predict(args) -> int:
  if args.server:
    from serving import client  # pylint: disable=g-import-not-at-top
    try:
      results = client.classify_files(args.server, args.model_name, args.files,
                                      version=args.model_version)
    except (client.ServingError, OSError) as error:
      print(f'yamnet-pipeline predict: {error}', file=sys.stderr)
      return 1
  else:
    from serving import local_predict  # pylint: disable=g-import-not-at-top
    results = local_predict.predict_files(args.model, args.files)
  for result in results:
    if args.json:
      print(json.dumps(result, sort_keys=True))
    else:
      top = result['scores'][result['class_name']]
      print(f"{result['file']}: {result['class_name']} ({top:.3f})")
  return 0


def _cmd_kubeflow(args) -> int:
  from components.yamnet import loader  # pylint: disable=g-import-not-at-top
  from pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  kubeflow_v2_runner.compile_kubeflow_pipeline(
      output_file=args.output,
      data_root=args.data_root,
      yamnet_handle=args.yamnet or loader.DEFAULT_YAMNET_HANDLE,
      pipeline_root=args.pipeline_root,
      classes=args.classes,
      image=args.image or kubeflow_v2_runner.DEFAULT_IMAGE,
      serving_model_dir=args.serving_model_dir,
      yamnet_fingerprint=args.yamnet_fingerprint,
      **_pipeline_options(args))
  print(args.output)
  return 0


def _cmd_cv(args) -> int:
  from components.yamnet import loader  # pylint: disable=g-import-not-at-top
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from pipeline import cross_validation  # pylint: disable=g-import-not-at-top
  config = cross_validation.cv_config(
      os.path.abspath(args.data_root),
      args.yamnet or loader.DEFAULT_YAMNET_HANDLE,
      esc50_classes.parse_classes(args.classes), os.path.abspath(args.output),
      epochs=args.epochs)
  try:
    result = cross_validation.cross_validate(config)
  except (RuntimeError, OSError) as error:
    print(f'yamnet-pipeline cv: {error}', file=sys.stderr)
    return 1
  print(json.dumps(result, sort_keys=True) if args.json else
        cross_validation.format_result(result))
  return 0


_COMMANDS = {'run': _cmd_run, 'demo': _cmd_demo,
             'download-esc50': _cmd_download, 'predict': _cmd_predict,
             'kubeflow': _cmd_kubeflow, 'cv': _cmd_cv}


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  if getattr(args, 'data_root', '') is None:
    print(f'yamnet-pipeline {args.command}: --data-root (or $ESC50_ROOT) is '
          'required; `yamnet-pipeline download-esc50 --to DIR` fetches ESC-50',
          file=sys.stderr)
    return 2
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  try:
    return _COMMANDS[args.command](args)
  except ValueError as error:
    print(f'yamnet-pipeline {args.command}: {error}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
