"""The embedding benchmark's measurements, each run in a child process.

benchmarks/embedding.py starts one process per measurement (`--task NAME`)
so that TF's thread pools and the peak RSS belong to that measurement alone.
"""

import glob
import os
import resource
import time
from typing import Any, Dict, List, Optional


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
_RAW_CLIPS = 96
RAW_REPEATS = 3
GRAPH_BATCH = 'graph batch 16'  # How the executor calls YAMNet.
_RECIPE_CLIPS = 200


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
             repeats: int = RAW_REPEATS,
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
      GRAPH_BATCH: (16, embed_clips),
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
  from data import datasets  # pylint: disable=g-import-not-at-top
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
      ([datasets.audio_path(data_root, r) for r in rows],
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

