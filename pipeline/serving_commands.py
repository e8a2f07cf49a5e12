"""The command line's serving subcommands: `predict` (a pushed model loaded
here, TF Serving, or a TFLite model; `--timeline` for long recordings) and
`export-tflite`. Heavy imports wait until a command runs."""

import argparse
import json
import os
import sys

from pipeline import configs
from pipeline import options
from serving import contract


def _existing_path(text: str) -> str:
  if not os.path.exists(text):
    raise argparse.ArgumentTypeError(f'{text} does not exist')
  return text


def _add_predict(commands) -> None:
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
  source.add_argument('--tflite', type=_existing_path, metavar='FILE.tflite',
                      help='a TFLite classifier from export-tflite, run with '
                      'the TFLite interpreter (labels.txt beside it)')
  model_name = configs.default_of('model_name')
  predict.add_argument('--model-name', default=model_name,
                       help=f'model name on the server (default: {model_name})')
  predict.add_argument('--model-version', type=int, metavar='N',
                       help='version on the server (default: the newest it '
                       'serves)')
  predict.add_argument('files', nargs='+', metavar='FILE')
  predict.add_argument('--json', action='store_true',
                       help='print one JSON object per file')
  predict.add_argument(
      '--timeline', action='store_true',
      help='for recordings of any length and any format libsndfile reads, '
      'streamed from disk: print the events heard, runs of patches whose top '
      'class is confidently the same (serving_timeline signature)')
  predict.add_argument(
      '--min-probability', type=options.fraction,
      default=contract.DEFAULT_MIN_PROBABILITY, metavar='P',
      help='with --timeline: lowest top-class probability of a patch in an '
      f'event (default: {contract.DEFAULT_MIN_PROBABILITY})')


def _add_export_tflite(commands) -> None:
  export = commands.add_parser(
      'export-tflite', help='write TFLite models of a pushed classifier, '
      'checked against it, for devices',
      description='Converts a pushed classifier to TFLite, float and int8 '
      '(dynamic range), checks each against the SavedModel on the given '
      'clips (top-1 agreement >= 0.99; float probabilities within 1e-3) and '
      'writes those that pass, with labels.txt. See docs/serving.md.')
  export.add_argument('--model', type=_existing_path, required=True,
                      metavar='DIR', help='a pushed version folder or the '
                      'model base folder (newest version used)')
  export.add_argument('--output', required=True, metavar='DIR',
                      help='folder to write the .tflite files and labels to')
  export.add_argument('files', nargs='+', metavar='FILE',
                      help='audio clips to check the TFLite models on')


def add_parsers(commands) -> None:
  _add_predict(commands)
  _add_export_tflite(commands)


def _print_timelines(args) -> int:
  from serving import timeline  # pylint: disable=g-import-not-at-top
  if args.tflite:
    raise ValueError('--timeline needs --model or --server: the TFLite '
                     'model answers for a whole input only')
  if args.server:
    from serving import client  # pylint: disable=g-import-not-at-top
    timeline_fn = timeline.server_timeline_fn(client.connect(
        args.server, args.model_name, args.model_version))
  else:
    from serving import local_predict  # pylint: disable=g-import-not-at-top
    timeline_fn = timeline.local_timeline_fn(
        local_predict.load_classifier(args.model))
  for path in args.files:
    heard = timeline.events(timeline.patches(timeline_fn, path),
                            args.min_probability)
    if args.json:
      print(json.dumps({'file': path,
                        'events': [event.to_json() for event in heard]},
                       sort_keys=True))
    else:
      print(f'{path}: {len(heard)} events')
      for event in heard:
        print(f'  {event}')
  return 0


def _cmd_predict(args) -> int:
  if args.timeline:
    from serving import client  # pylint: disable=g-import-not-at-top
    try:
      return _print_timelines(args)
    except (client.ServingError, OSError, RuntimeError) as error:
      print(f'yamnet-pipeline predict: {error}', file=sys.stderr)
      return 1
  if args.tflite:
    from serving import tflite_export  # pylint: disable=g-import-not-at-top
    results = tflite_export.predict_files(args.tflite, args.files)
  elif args.server:
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


def _cmd_export_tflite(args) -> int:
  # pylint: disable=g-import-not-at-top
  from serving import local_predict
  from serving import tflite_check
  from serving import tflite_export
  checks = tflite_export.export_tflite(
      local_predict.model_version_dir(args.model), args.output,
      tflite_check.AUDIO_FILES, args.files)
  for result in checks:
    verdict = 'written' if result.passed else 'NOT written'
    print(f'{tflite_export.file_name(result.variant)}: {verdict}, '
          f'{result.size_bytes / 1e6:.1f} MB; {result.reason}')
  return 0 if all(result.passed for result in checks) else 1


COMMANDS = {'predict': _cmd_predict, 'export-tflite': _cmd_export_tflite}
