"""What the report reads back from a run's artifacts, beside MLMD."""

import collections
import dataclasses
import os
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components import examples_io
from components import splits
from data import clip_examples
from data import record_files
from serving import contract


def clip_counts(examples, classes: Sequence[str]) -> List[List[Any]]:
  """Rows of (class, clips in fold 1..5, total) from ExampleGen's output."""
  columns = record_files.read_columns(
      examples_io.split_files(examples, splits.ALL_FOLD_SPLITS),
      clip_examples.parse_spec([clip_examples.CATEGORY, clip_examples.FOLD]))
  counts = collections.Counter(
      zip((record_files.decode(c) for c in columns[clip_examples.CATEGORY]),
          columns[clip_examples.FOLD].tolist()))
  folds = [splits.fold_of_split(s) for s in splits.ALL_FOLD_SPLITS]
  rows = []
  for name in classes:
    per_fold = [counts[(name, fold)] for fold in folds]
    rows.append([name] + per_fold + [sum(per_fold)])
  return rows


def training_history(model_run_uri: str) -> Dict[str, List[float]]:
  """epoch_loss / epoch_accuracy per epoch from the Keras TensorBoard logs."""
  history = {}
  for subset in ('train', 'validation'):
    values: Dict[str, Dict[int, float]] = {}
    for path in sorted(tf.io.gfile.glob(
        os.path.join(model_run_uri, subset, 'events.out.tfevents.*'))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag in ('epoch_loss', 'epoch_accuracy'):
            values.setdefault(value.tag, {})[event.step] = float(
                tf.make_ndarray(value.tensor))
    for tag, by_step in values.items():
      history[f'{subset} {tag[len("epoch_"):]}'] = [
          by_step[step] for step in sorted(by_step)]
  return history


@dataclasses.dataclass(frozen=True)
class ClipView:
  """One test clip as the trained model hears it, for the report's figure."""
  class_name: str
  clip_id: str
  waveform: np.ndarray
  # YAMNet's log-mel spectrogram [frames (10 ms), 64 bins].
  log_mel: np.ndarray
  # serving_timeline: patch start times [P] and probabilities [P, classes].
  start_s: np.ndarray
  probabilities: np.ndarray
  class_names: List[str]


def first_clip_per_class(examples, test_folds: Sequence[int],
                         classes: Sequence[str]
                        ) -> Dict[str, Tuple[str, np.ndarray]]:
  """{class: (clip id, 16 kHz waveform)}: each class's first test clip by id."""
  found: Dict[str, Tuple[str, np.ndarray]] = {}
  files = examples_io.split_files(examples,
                                  splits.fold_split_names(test_folds))
  for record in record_files.record_dataset(files):
    features = tf.train.Example.FromString(record.numpy()).features.feature
    name = features[clip_examples.CATEGORY].bytes_list.value[0].decode()
    clip_id = features[clip_examples.CLIP_ID].bytes_list.value[0].decode()
    if name in classes and (name not in found or clip_id < found[name][0]):
      found[name] = (clip_id, np.array(
          features[clip_examples.AUDIO].float_list.value, np.float32))
  return {name: found[name] for name in classes if name in found}


def clip_views(model_dir: str, clips: Dict[str, Tuple[str, np.ndarray]]
              ) -> List[ClipView]:
  """The exported model's YAMNet log-mel and timeline of each clip."""
  model = tf.saved_model.load(model_dir)
  timeline = model.signatures[contract.TIMELINE_SIGNATURE]
  views = []
  for name, (clip_id, waveform) in clips.items():
    _, _, log_mel = model.yamnet(tf.constant(waveform))
    outputs = timeline(**{contract.AUDIO_INPUT: tf.constant(waveform)})
    views.append(ClipView(
        class_name=name, clip_id=clip_id, waveform=waveform,
        log_mel=log_mel.numpy(),
        start_s=outputs[contract.TIMELINE_START].numpy(),
        probabilities=outputs['probabilities'].numpy(),
        class_names=[n.decode() for n in outputs['class_names'].numpy()]))
  return views
