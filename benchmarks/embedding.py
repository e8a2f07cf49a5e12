"""Throughput of the embedding step against YAMNet alone and the recipe.

    .venv/bin/python benchmarks/embedding.py [--json] [--clips N] [--rounds R]
        [--modes ...]

On ../shared/esc50-mini (skipped if absent; its YAMNet is required) and on a
synthetic set of N clips (default 2000) plus one of 200, prints patches/s of:
  1. raw: YAMNet alone on decoded 16 kHz audio, best of threads and batching
     (per-clip calls, a graph batch as the executor uses, `call_batch`; one
     process with 1 or 2 TF threads, one process making two calls at once
     with each op on one thread, or two 1-thread processes at once);
  2. recipe: the source recipe's tf.data over the wav files, decode and
     resample per file, one YAMNet call per clip, unbatch; timed to its
     last patch;
  3. pipeline: YamnetEmbeddingGen's executor on Esc50ExampleGen's output (both
     run with the same DirectRunner mode, as in the pipeline), from clip
     Examples to written patch Examples, in each DirectRunner mode;
  4. back to back: R rounds of the best mode's executor and the best raw
     set-up over the same N clips in one pass, one right after the other, so
     that both meet this machine at the same speed; the median of the
     rounds' ratios is the paired ratio.
Pipeline figures are whole executor runs (model loads and Beam start-up
included) and, from the N and 200 clip runs, marginal (patches added per
second added), which leaves out the fixed start-up. Peak RSS is of the
executor's process and its children. Each measurement runs in its own
process, so TF's thread pools and peak RSS are its own.
"""

import argparse
import glob
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import machine

# in_memory is the pipeline's default: no Beam arguments at all. The others
# reach the executor as `yamnet-pipeline run` passes them (`_run_executor`).
MODES = {
    'in_memory': [],
    'multi_threading': ['--direct_running_mode=multi_threading',
                        '--direct_num_workers=2'],
    'multi_processing': ['--direct_running_mode=multi_processing',
                         '--direct_num_workers=2'],
}
SMALL_CLIPS = 200
_SYNTHETIC_CLASSES = 40
_RAW_CLIPS = 96
_RAW_REPEATS = 3
_GRAPH_BATCH = 'graph batch 16'  # How the executor calls YAMNet.
_RECIPE_CLIPS = 200
# Esc50ExampleGen fails with LostRecordsError when a DirectRunner
# multi-worker write drops a record (docs/performance.md); it is rerun.
_EXAMPLE_GEN_ATTEMPTS = 3


# --- Measurements, each run in a child process (`--task`). ---


def _clip_audio(clips_uri: str, count: int):
  """[count, samples] decoded audio from an Esc50ExampleGen output."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from data import record_files  # pylint: disable=g-import-not-at-top
  files = sorted(glob.glob(os.path.join(clips_uri, 'Split-*', '*')))
  records = record_files.record_dataset(files)
  audio = [tf.io.parse_single_example(
      r, {'audio': tf.io.VarLenFeature(tf.float32)})['audio'].values.numpy()
           for r in records.take(count)]
  return np.stack(audio)


def _barrier(sync_dir: str, name: str, parties: int) -> None:
  """Waits until `parties` processes have reached the barrier `name`."""
  if parties == 1:
    return
  open(os.path.join(sync_dir, f'{name}.{os.getpid()}'), 'w').close()
  while len(glob.glob(os.path.join(sync_dir, f'{name}.*'))) < parties:
    time.sleep(0.005)


def task_raw(intra: int, inter: int, calls: int, clips_uri: str, handle: str,
             part: int, parties: int, sync_dir: str, clips: int = _RAW_CLIPS,
             repeats: int = _RAW_REPEATS,
             styles: Optional[List[str]] = None) -> Dict[str, Any]:
  """Times YAMNet alone per calling style (all, or those named), `calls`
  calls at once, on the first `clips` clips.

  Returns, per style, one [start, end, patches, CPU seconds] per repeat.
  """
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(intra)
  tf.config.threading.set_inter_op_parallelism_threads(inter)
  from yamnet import loader  # pylint: disable=g-import-not-at-top
  from components.yamnet_embedding import embed  # pylint: disable=g-import-not-at-top
  model = loader.load_yamnet(handle)
  embed_clips = embed.clip_embedder(model)
  audio = _clip_audio(clips_uri, clips)[part::parties]
  calls_of = {
      'per-clip call': (1, lambda w: [model(x)[1] for x in w]),
      _GRAPH_BATCH: (16, embed_clips),
  }
  if hasattr(model, 'call_batch'):
    calls_of['call_batch 25'] = (25, lambda w: model.call_batch(w)[1])

  def patches_of(fn, waveforms):
    return sum(int(x.shape[0]) for x in fn(tf.constant(waveforms)))

  results = {}
  with concurrent.futures.ThreadPoolExecutor(calls) as pool:
    for name, (batch, fn) in calls_of.items():
      if styles is not None and name not in styles:
        continue
      fn(tf.constant(audio[:batch]))  # Traces and warms up.
      times = []
      for repeat in range(repeats):
        _barrier(sync_dir, f'{name}-{repeat}', parties)
        start, cpu = time.time(), time.process_time()
        patches = sum(pool.map(
            lambda i, fn=fn: patches_of(fn, audio[i:i + batch]),
            range(0, len(audio), batch)))
        times.append([start, time.time(), patches,
                      time.process_time() - cpu])
      results[name] = times
  return results


def task_recipe(data_root: str, handle: str) -> Dict[str, Any]:
  """The source recipe's input pipeline and embedding, with TF defaults."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from data import audio  # pylint: disable=g-import-not-at-top
  from data import esc50_csv  # pylint: disable=g-import-not-at-top
  rows = esc50_csv.read_esc50_csv(data_root)[:_RECIPE_CLIPS]
  yamnet_model = tf.saved_model.load(handle)

  def resample(wav, sample_rate):
    return audio.to_mono_16k(wav.numpy(), int(sample_rate.numpy()))

  def load_wav_16k_mono(filename, label, fold):
    wav, sample_rate = tf.audio.decode_wav(tf.io.read_file(filename),
                                           desired_channels=1)
    wav = tf.py_function(resample, [tf.squeeze(wav, axis=-1), sample_rate],
                         tf.float32)
    return tf.reshape(wav, [-1]), label, fold

  def extract_embedding(wav_data, label, fold):
    _, embeddings, _ = yamnet_model(wav_data)
    num_embeddings = tf.shape(embeddings)[0]
    return (embeddings, tf.repeat(label, num_embeddings),
            tf.repeat(fold, num_embeddings))

  main_ds = tf.data.Dataset.from_tensor_slices(
      ([esc50_csv.audio_path(data_root, r) for r in rows],
       [r.target for r in rows], [r.fold for r in rows]))
  main_ds = main_ds.map(load_wav_16k_mono).map(extract_embedding).unbatch()
  start, cpu_start = time.time(), time.process_time()
  patches_in = iter(main_ds)
  patches = sum(1 for _ in patches_in)
  seconds = time.time() - start
  cpu_seconds = time.process_time() - cpu_start
  # Timed to the last patch: deleting an autotuned tf.data iterator can block
  # for seconds, which is tf.data's, not the recipe's (docs/performance.md).
  del patches_in
  return {'clips': len(rows), 'patches': patches, 'seconds': seconds,
          'patches_per_s': patches / seconds,
          'cpu_ms_per_patch': 1000 * cpu_seconds / patches}


def _run_executor(executor_cls, exec_properties, input_dict, output_dict,
                  beam_args: List[str], tmp_dir: str) -> float:
  from tfx.dsl.components.base import base_beam_executor  # pylint: disable=g-import-not-at-top
  from components import beam_options  # pylint: disable=g-import-not-at-top
  context = base_beam_executor.BaseBeamExecutor.Context(
      beam_pipeline_args=beam_options.local_beam_args(beam_args),
      tmp_dir=tmp_dir)
  start = time.time()
  executor_cls(context).Do(input_dict, output_dict, exec_properties)
  return time.time() - start


def _artifacts(out_dir: str):
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import quarantine  # pylint: disable=g-import-not-at-top
  examples = standard_artifacts.Examples()
  examples.uri = os.path.join(out_dir, 'examples')
  failures = quarantine.QuarantinedClips()
  failures.uri = os.path.join(out_dir, 'quarantine')
  return examples, failures


def task_example_gen(data_root: str, out_dir: str,
                     mode: str) -> Dict[str, Any]:
  """Esc50ExampleGen's executor on every class of data_root."""
  from components import artifact_properties as properties  # pylint: disable=g-import-not-at-top
  from components.esc50_example_gen import executor  # pylint: disable=g-import-not-at-top
  from components.esc50_example_gen.component import Esc50ExampleGen  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from data import esc50_csv  # pylint: disable=g-import-not-at-top
  classes = sorted({r.category for r in esc50_csv.read_esc50_csv(data_root)})
  examples, failures = _artifacts(out_dir)
  component = Esc50ExampleGen(
      data_root=data_root, classes=classes,
      max_quarantine_fraction=configs.default_of('max_quarantine_fraction'))
  seconds = _run_executor(
      executor.Executor, dict(component.exec_properties), {},
      {'examples': [examples], 'quarantine': [failures]}, MODES[mode],
      os.path.join(out_dir, 'tmp'))
  return {'seconds': seconds, 'split_names': examples.split_names,
          'custom_properties': {
              name: examples.get_int_custom_property(name)
              for name in (properties.CLIPS_LISTED,
                           properties.CLIPS_QUARANTINED)},
          'clips_written': _count_records(examples.uri)}


def _count_records(uri: str) -> int:
  """Records in all splits of an Examples artifact, checked after timing."""
  from data import record_files  # pylint: disable=g-import-not-at-top
  return record_files.count_records(glob.glob(os.path.join(uri, 'Split-*',
                                                           '*')))


def _cpu_seconds() -> float:
  """User + system CPU of this process and its waited-for children."""
  return sum(sum(resource.getrusage(who)[:2])
             for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def task_embed(clips_dir: str, split_names: str,
               custom_properties: Dict[str, int], out_dir: str, handle: str,
               mode: str) -> Dict[str, Any]:
  """YamnetEmbeddingGen's executor, with the component's exec properties, on
  clip Examples carrying what Esc50ExampleGen recorded on them."""
  from tfx import types  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import artifact_properties as properties  # pylint: disable=g-import-not-at-top
  from components.yamnet_embedding import executor  # pylint: disable=g-import-not-at-top
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from components.yamnet_embedding.component import YamnetEmbeddingGen  # pylint: disable=g-import-not-at-top
  clips = standard_artifacts.Examples()
  clips.uri = os.path.join(clips_dir, 'examples')
  clips.split_names = split_names
  for name, value in custom_properties.items():
    clips.set_int_custom_property(name, value)
  embeddings, failures = _artifacts(out_dir)
  component = YamnetEmbeddingGen(
      examples=types.Channel(type=standard_artifacts.Examples),
      yamnet_handle=handle, yamnet_fingerprint='benchmark',
      batch_size=configs.default_of('embedding_batch_size'))
  cpu_before = _cpu_seconds()
  seconds = _run_executor(
      executor.Executor, dict(component.exec_properties),
      {'examples': [clips]},
      {'embeddings': [embeddings], 'quarantine': [failures]}, MODES[mode],
      os.path.join(out_dir, 'tmp'))
  cpu = _cpu_seconds() - cpu_before
  return {'seconds': seconds, 'cpu_seconds': cpu,
          'clips': embeddings.get_int_custom_property(
              properties.CLIPS_EMBEDDED),
          'patches': embeddings.get_int_custom_property(properties.PATCHES),
          'patches_written': _count_records(embeddings.uri),
          'quarantined': embeddings.get_int_custom_property(
              properties.CLIPS_QUARANTINED)}


TASKS = {'raw': task_raw, 'recipe': task_recipe,
         'example_gen': task_example_gen, 'embed': task_embed}


# --- Orchestration. ---


def _child(task: str, **kwargs):
  """Runs a task in a fresh process; returns (its result, peak RSS MB)."""
  stdout, peak_mb = machine.run_child(
      [os.path.abspath(__file__), '--task', task, '--task-args',
       json.dumps(kwargs)])
  return json.loads(stdout.strip().splitlines()[-1]), peak_mb


# (label, TF intra-op threads, inter-op threads, concurrent calls, processes)
RAW_SETUPS = (
    ('1 process x 1 thread', 1, 1, 1, 1),
    ('1 process x 2 threads', 2, 2, 1, 1),
    ('1 process, 2 calls at once x 1 thread', 1, 2, 2, 1),
    ('2 processes x 1 thread', 1, 1, 1, 2),
)


def measure_raw(clips_dir: str, handle: str,
                work: str) -> Dict[str, Dict[str, float]]:
  """Patches/s (best repeat) of each calling style and thread set-up, and its
  CPU ms per patch."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  figures = {}
  for label, intra, inter, calls, parties in RAW_SETUPS:
    sync_dir = tempfile.mkdtemp(dir=work)
    with concurrent.futures.ThreadPoolExecutor(parties) as pool:
      runs = [r[0] for r in pool.map(
          lambda part, intra=intra, inter=inter, calls=calls, parties=parties,
          sync_dir=sync_dir: _child(
              'raw', intra=intra, inter=inter, calls=calls,
              clips_uri=os.path.join(clips_dir, 'examples'), handle=handle,
              part=part, parties=parties, sync_dir=sync_dir),
          range(parties))]
    for style in runs[0]:
      best = {'patches_per_s': 0.0}
      for repeat in range(_RAW_REPEATS):
        spans = [run[style][repeat] for run in runs]
        seconds = max(s[1] for s in spans) - min(s[0] for s in spans)
        patches = sum(s[2] for s in spans)
        if patches / seconds > best['patches_per_s']:
          best = {'patches_per_s': patches / seconds,
                  'cpu_ms_per_patch': 1000 * sum(s[3] for s in spans) /
                                      patches}
      figures[f'{style}, {label}'] = best
  return figures


def measure_raw_same_work(clips_dir: str, clips: int, handle: str,
                          work: str) -> Dict[str, Any]:
  """The best raw set-up over every clip the executor embedded, in one pass.

  As the executor calls YAMNet (graph batches of 16, one call in flight per
  core, one TF thread per op), with the audio decoded into memory first: a
  raw rate over the same work, for as long as the executor runs.
  """
  cores = os.cpu_count() or 1
  run, _ = _child('raw', intra=1, inter=cores, calls=cores,
                  clips_uri=os.path.join(clips_dir, 'examples'),
                  handle=handle, part=0, parties=1,
                  sync_dir=tempfile.mkdtemp(dir=work), clips=clips,
                  repeats=1, styles=[_GRAPH_BATCH])
  start, end, patches, cpu = run[_GRAPH_BATCH][0]
  return {'clips': clips, 'patches': patches, 'seconds': end - start,
          'patches_per_s': patches / (end - start),
          'cpu_ms_per_patch': 1000 * cpu / patches}


def _embed(clips_dir: str, gen: Dict[str, Any], out_dir: str, handle: str,
           mode: str):
  """The embedding executor on an ExampleGen output; (result, peak RSS MB)."""
  return _child('embed', clips_dir=clips_dir, split_names=gen['split_names'],
                custom_properties=gen['custom_properties'], out_dir=out_dir,
                handle=handle, mode=mode)


def measure_paired(clips_dir: str, gen: Dict[str, Any], clips: int,
                   handle: str, work: str, mode: str,
                   rounds: int) -> Dict[str, Any]:
  """Rounds of the executor and a one-pass raw over the same clips, each
  round's two runs back to back (alternating which goes first), so both see
  the machine at the same speed; the ratio of each round and their median.
  """
  figures = []
  for index in range(rounds):
    out_dir = os.path.join(work, f'paired-{index}')
    runs = {}
    for kind in (('raw', 'pipeline') if index % 2 == 0 else
                 ('pipeline', 'raw')):
      if kind == 'raw':
        runs['raw'] = measure_raw_same_work(clips_dir, clips, handle, work)
      else:
        result, _ = _embed(clips_dir, gen, out_dir, handle, mode)
        runs['pipeline'] = result['patches'] / result['seconds']
        shutil.rmtree(out_dir)
    figures.append({
        'raw_patches_per_s': runs['raw']['patches_per_s'],
        'pipeline_patches_per_s': runs['pipeline'],
        'ratio': runs['pipeline'] / runs['raw']['patches_per_s']})
    _log(f'Round {index + 1}/{rounds}: pipeline {runs["pipeline"]:.0f}, raw '
         f'{runs["raw"]["patches_per_s"]:.0f} patches/s, ratio '
         f'{figures[-1]["ratio"]:.2f}')
  return {'mode': mode, 'clips': clips, 'rounds': figures,
          'median_ratio': statistics.median(f['ratio'] for f in figures)}


def measure_pipeline(data_root: str, handle: str, work: str,
                     modes: List[str]) -> Dict[str, Dict[str, Any]]:
  """Per mode: ExampleGen then the timed embedding executor."""
  figures = {}
  for mode in modes:
    clips_dir = os.path.join(work, f'clips-{mode}')
    lost = []
    for _ in range(_EXAMPLE_GEN_ATTEMPTS):
      try:
        gen, _ = _child('example_gen', data_root=data_root,
                        out_dir=clips_dir, mode=mode)
        break
      except RuntimeError as error:  # Only a lost-records check is retried.
        if 'LostRecordsError' not in str(error):
          raise
        lost.append(str(error).strip().splitlines()[-1])
        _log(f'ExampleGen ({mode}) lost records; running it again')
    else:
      raise RuntimeError(f'ExampleGen ({mode}) lost records in every '
                         f'attempt: {lost}')
    result, peak_mb = _embed(clips_dir, gen, os.path.join(
        work, f'embeddings-{mode}'), handle, mode)
    result.update(clips_in=gen['clips_written'],
                  example_gen={key: gen[key] for key in
                               ('split_names', 'custom_properties')},
                  example_gen_lost_records=lost,
                  patches_per_s=result['patches'] / result['seconds'],
                  cpu_ms_per_patch=1000 * result['cpu_seconds'] /
                  result['patches'],
                  peak_rss_mb=peak_mb,
                  load_1m_after=os.getloadavg()[0],
                  input_files=len(glob.glob(os.path.join(
                      clips_dir, 'examples', '*', '*'))))
    figures[mode] = result
  return figures


def _synthetic(root: str, clips: int) -> str:
  from data import esc50_classes  # pylint: disable=g-import-not-at-top
  from data import synthetic  # pylint: disable=g-import-not-at-top
  per_fold = clips // (_SYNTHETIC_CLASSES * 5)
  synthetic.write_synthetic_esc50(
      root, classes=esc50_classes.ESC50_CLASSES[:_SYNTHETIC_CLASSES],
      clips_per_class_per_fold=per_fold, seed=0)
  return root


def _log(message: str) -> None:
  print(f'[{time.strftime("%H:%M:%S")}] {message}', file=sys.stderr,
        flush=True)


def run(clips: int, modes: List[str], rounds: int,
        work: str) -> Dict[str, Any]:
  """All measurements; returns the report as a dict."""
  handle = str(machine.SHARED_YAMNET)
  report: Dict[str, Any] = {'machine': machine.describe(), 'datasets': {}}
  datasets = {}
  missing = machine.shared_inputs_missing()
  if str(machine.SHARED_YAMNET / 'saved_model.pb') in missing:
    raise SystemExit(f'needs the shared YAMNet: missing {missing}')
  if missing:
    report['skipped'] = ('esc50-mini: ../shared beside the repo root is '
                         f'absent (missing {", ".join(missing)})')
    _log(f'Skipping {report["skipped"]}')
  else:
    datasets['esc50-mini'] = str(machine.SHARED_ESC50)
  _log(f'Writing synthetic sets of {clips} and {SMALL_CLIPS} clips')
  datasets[f'synthetic-{clips}'] = _synthetic(
      os.path.join(work, f'synthetic-{clips}'), clips)
  datasets[f'synthetic-{SMALL_CLIPS}'] = _synthetic(
      os.path.join(work, f'synthetic-{SMALL_CLIPS}'), SMALL_CLIPS)

  for name, root in datasets.items():
    _log(f'Pipeline on {name} ({", ".join(modes)})')
    report['datasets'][name] = measure_pipeline(
        root, handle, os.path.join(work, name), modes)
  first = next(iter(datasets))
  _log(f'Raw YAMNet and the recipe on {first}')
  report['raw'] = measure_raw(
      os.path.join(work, first, f'clips-{modes[0]}'), handle, work)
  report['raw_dataset'] = first
  big = report['datasets'][f'synthetic-{clips}']
  best = max(modes, key=lambda m: big[m]['patches_per_s'])
  _log(f'{rounds} rounds of the executor ({best}) and raw YAMNet over the '
       f'{clips} clips, back to back')
  report['paired'] = measure_paired(
      os.path.join(work, f'synthetic-{clips}', f'clips-{best}'),
      big[best]['example_gen'], clips, handle, work, best, rounds)
  report['recipe'], _ = _child('recipe', data_root=datasets[first],
                               handle=handle)
  _summarize(report, clips, modes)
  report['load_average_1m_end'] = os.getloadavg()[0]
  return report


def _summarize(report: Dict[str, Any], clips: int, modes: List[str]) -> None:
  """Headline figures: the N-clip set's best mode against raw and recipe."""
  raw = max(f['patches_per_s'] for f in report['raw'].values())
  recipe = report['recipe']['patches_per_s']
  big = report['datasets'][f'synthetic-{clips}']
  small = report['datasets'][f'synthetic-{SMALL_CLIPS}']
  for mode in modes:
    big[mode]['marginal_patches_per_s'] = (
        (big[mode]['patches'] - small[mode]['patches']) /
        (big[mode]['seconds'] - small[mode]['seconds']))
    big[mode]['rss_growth_mb'] = (big[mode]['peak_rss_mb'] -
                                  small[mode]['peak_rss_mb'])
  best = report['paired']['mode']  # The fastest whole run (see `run`).
  report.update(
      raw_patches_per_s=raw,
      tutorial_patches_per_s=recipe,
      pipeline_mode=best,
      pipeline_patches_per_s=big[best]['patches_per_s'],
      pipeline_marginal_patches_per_s=big[best]['marginal_patches_per_s'],
      pipeline_peak_rss_mb=big[best]['peak_rss_mb'],
      pipeline_peak_rss_mb_small=small[best]['peak_rss_mb'],
      ratio_pipeline_to_raw=big[best]['patches_per_s'] / raw,
      ratio_pipeline_to_tutorial=big[best]['patches_per_s'] / recipe,
      raw_same_work_patches_per_s=statistics.median(
          r['raw_patches_per_s'] for r in report['paired']['rounds']),
      ratio_pipeline_to_raw_paired=report['paired']['median_ratio'],
      ratio_marginal_to_raw=big[best]['marginal_patches_per_s'] / raw,
      ratio_marginal_to_tutorial=big[best]['marginal_patches_per_s'] / recipe)


def format_report(report: Dict[str, Any]) -> str:
  """The report as the tables docs/performance.md shows."""
  raw = report['raw_patches_per_s']
  recipe = report['tutorial_patches_per_s']
  lines = [machine.format_machine(report['machine']), '']
  if 'skipped' in report:
    lines += [f"Skipped {report['skipped']}", '']
  lines.append(f"1. Raw YAMNet on decoded audio ({report['raw_dataset']}):")
  for name, f in sorted(report['raw'].items(),
                        key=lambda kv: -kv[1]['patches_per_s']):
    lines.append(f"   {name:56s} {f['patches_per_s']:6.0f} patches/s, "
                 f"{f['cpu_ms_per_patch']:.2f} CPU ms/patch")
  r = report['recipe']
  lines += ['', f"2. Source recipe (tf.data, decode + resample per file, one "
                f"call per clip): {recipe:.0f} patches/s, "
                f"{r['cpu_ms_per_patch']:.2f} CPU ms/patch ({r['clips']} "
                "clips)",
            '', '3. Embedding executor (ExampleGen output -> patch Examples):',
            f"   {'dataset':18s} {'mode':17s} {'clips':>5s} {'patches':>7s} "
            f"{'seconds':>7s} {'patches/s':>9s} {'x raw':>6s} {'x recipe':>8s} "
            f"{'CPU ms/patch':>12s} {'peak RSS MB':>11s} {'marginal/s':>10s} "
            f"{'load':>5s}"]
  for name, modes in report['datasets'].items():
    for mode, f in modes.items():
      marginal = f.get('marginal_patches_per_s')
      lines.append(
          f"   {name:18s} {mode:17s} {f['clips']:5d} {f['patches']:7d} "
          f"{f['seconds']:7.1f} {f['patches_per_s']:9.0f} "
          f"{f['patches_per_s'] / raw:6.2f} {f['patches_per_s'] / recipe:8.2f} "
          f"{f['cpu_ms_per_patch']:12.2f} {f['peak_rss_mb']:11.0f} "
          f"{marginal if marginal is not None else float('nan'):10.0f} "
          f"{f['load_1m_after']:5.2f}")
  paired = report['paired']
  lines += ['', f"4. Back to back, {paired['clips']} synthetic clips: the "
                f"executor ({paired['mode']}) and raw YAMNet (graph batch 16, "
                "one pass) over the same clips, per round:"]
  for index, f in enumerate(paired['rounds']):
    lines.append(f"   round {index + 1}: pipeline "
                 f"{f['pipeline_patches_per_s']:5.0f}, raw "
                 f"{f['raw_patches_per_s']:5.0f} patches/s, ratio "
                 f"{f['ratio']:.2f}")
  lost = [f"{name} {mode}: {message}"
          for name, modes in report['datasets'].items()
          for mode, f in modes.items()
          for message in f.get('example_gen_lost_records', [])]
  if lost:
    lines += ['', 'ExampleGen runs that lost records (and were rerun):'] + [
        f'   {line}' for line in lost]
  lines += [
      '',
      f"Best mode on the large set: {report['pipeline_mode']}: "
      f"{report['pipeline_patches_per_s']:.0f} patches/s whole run "
      f"({report['ratio_pipeline_to_raw']:.2f} x raw {raw:.0f}, "
      f"{report['ratio_pipeline_to_tutorial']:.2f} x recipe {recipe:.0f}, "
      f"{report['ratio_pipeline_to_raw_paired']:.2f} x raw back to back, "
      "median of the rounds); "
      f"marginal {report['pipeline_marginal_patches_per_s']:.0f} patches/s "
      f"({report['ratio_marginal_to_raw']:.2f} x raw, "
      f"{report['ratio_marginal_to_tutorial']:.2f} x recipe)",
      f"Peak RSS: {report['pipeline_peak_rss_mb']:.0f} MB on the large set, "
      f"{report['pipeline_peak_rss_mb_small']:.0f} MB on {SMALL_CLIPS} clips",
      f"Load average (1 min) at the end: {report['load_average_1m_end']:.2f}; "
      "'load' is after each run. Above ~2 other processes shared the cores."]
  return '\n'.join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--json', action='store_true',
                      help='print one JSON object instead of tables')
  parser.add_argument('--clips', type=int, default=2000,
                      help='size of the large synthetic set, a multiple of '
                      f'{_SYNTHETIC_CLASSES * 5}')
  parser.add_argument('--modes', nargs='+', choices=list(MODES),
                      default=list(MODES))
  parser.add_argument('--rounds', type=int, default=3,
                      help='rounds of the best mode and a one-pass raw run '
                      'back to back, for the paired ratio')
  parser.add_argument('--task', help=argparse.SUPPRESS)
  parser.add_argument('--task-args', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.task:
    print(json.dumps(TASKS[args.task](**json.loads(args.task_args))))
    return
  if args.clips % (_SYNTHETIC_CLASSES * 5) or args.clips <= SMALL_CLIPS:
    parser.error(f'--clips must be a multiple of {_SYNTHETIC_CLASSES * 5} '
                 f'above {SMALL_CLIPS}')
  if args.rounds < 1:
    parser.error('--rounds must be at least 1')
  with tempfile.TemporaryDirectory(prefix='embedding-benchmark-') as work:
    report = run(args.clips, args.modes, args.rounds, work)
  print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == '__main__':
  main()
