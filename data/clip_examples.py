"""The clip Example: one clip of a dataset, as ExampleGen writes it.

Every producer and reader of clip Examples (ExampleGen, the embedding step,
the served model's clip evaluation, the run report, cross-validation) takes
its feature names, dtypes and shapes from here, so a renamed feature cannot
silently leave one of them reading nothing. tests/test_example_layouts.py
checks them against the curated schema, pipeline/schema/clips.pbtxt.
"""

import dataclasses
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from data import audio
from data import esc50_csv

# What the dataset says about the clip.
CLIP_ID = 'clip_id'
FILENAME = 'filename'
FOLD = 'fold'
TARGET = 'target'
CATEGORY = 'category'
ESC10 = 'esc10'
SRC_FILE = 'src_file'
TAKE = 'take'
# What decoding found: the source format, and the 16 kHz audio's length and
# level.
SOURCE_SAMPLE_RATE = 'source_sample_rate'
SOURCE_CHANNELS = 'source_channels'
NUM_SAMPLES = 'num_samples'
DURATION_S = 'duration_s'
PEAK = 'peak'
RMS_DBFS = 'rms_dbfs'
# The clip itself: 16 kHz mono float32 in [-1, 1], of any length.
AUDIO = 'audio'

FEATURE_SPEC = {
    CLIP_ID: tf.io.FixedLenFeature([], tf.string),
    FILENAME: tf.io.FixedLenFeature([], tf.string),
    FOLD: tf.io.FixedLenFeature([], tf.int64),
    TARGET: tf.io.FixedLenFeature([], tf.int64),
    CATEGORY: tf.io.FixedLenFeature([], tf.string),
    ESC10: tf.io.FixedLenFeature([], tf.int64),
    SRC_FILE: tf.io.FixedLenFeature([], tf.string),
    TAKE: tf.io.FixedLenFeature([], tf.string),
    SOURCE_SAMPLE_RATE: tf.io.FixedLenFeature([], tf.int64),
    SOURCE_CHANNELS: tf.io.FixedLenFeature([], tf.int64),
    NUM_SAMPLES: tf.io.FixedLenFeature([], tf.int64),
    DURATION_S: tf.io.FixedLenFeature([], tf.float32),
    PEAK: tf.io.FixedLenFeature([], tf.float32),
    RMS_DBFS: tf.io.FixedLenFeature([], tf.float32),
    AUDIO: tf.io.RaggedFeature(tf.float32),
}

# The clip-level facts data validation computes statistics of and checks
# against the curated schema, which names exactly these; the statistics read
# nothing else of a clip (not its audio).
VALIDATED_FEATURES = (CATEGORY, FOLD, TARGET, SOURCE_SAMPLE_RATE,
                      SOURCE_CHANNELS, DURATION_S, PEAK, RMS_DBFS)


def parse_spec(names: Sequence[str]) -> Dict[str, tf.io.FixedLenFeature]:
  """The parsing spec of some of the features, for readers that need few."""
  return {name: FEATURE_SPEC[name] for name in names}


@dataclasses.dataclass(frozen=True)
class Clip:
  """Who a clip is: what its patch Examples and quarantine records say."""
  clip_id: str
  filename: str
  category: str
  target: int
  fold: int


# The features a Clip is read from.
IDENTITY = (CLIP_ID, FILENAME, CATEGORY, TARGET, FOLD)


def clips_of(batch: Dict[str, tf.Tensor]) -> List[Clip]:
  """The Clips of a batch parsed with parse_spec(IDENTITY + ...)."""
  columns = {name: batch[name].numpy() for name in IDENTITY}
  return [Clip(clip_id=columns[CLIP_ID][i].decode(),
               filename=columns[FILENAME][i].decode(),
               category=columns[CATEGORY][i].decode(),
               target=int(columns[TARGET][i]), fold=int(columns[FOLD][i]))
          for i in range(len(columns[CLIP_ID]))]


def _bytes_feature(value: str) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[value.encode('utf-8')]))


def _int_feature(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _float_feature(value: float) -> tf.train.Feature:
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def clip_example(row: esc50_csv.ClipRow, waveform: np.ndarray,
                 source_sample_rate: int,
                 source_channels: int) -> tf.train.Example:
  """The clip Example: the dataset's columns, facts about the clip, audio.

  The facts (source format, duration, level) are what data validation checks,
  so a dataset of the wrong rate or of near-silent files is caught by name.
  """
  peak = float(np.max(np.abs(waveform)))
  rms = float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64))))
  return tf.train.Example(features=tf.train.Features(feature={
      CLIP_ID: _bytes_feature(row.clip_id),
      FILENAME: _bytes_feature(row.filename),
      FOLD: _int_feature(row.fold),
      TARGET: _int_feature(row.target),
      CATEGORY: _bytes_feature(row.category),
      ESC10: _int_feature(row.esc10),
      SRC_FILE: _bytes_feature(row.src_file),
      TAKE: _bytes_feature(row.take),
      SOURCE_SAMPLE_RATE: _int_feature(source_sample_rate),
      SOURCE_CHANNELS: _int_feature(source_channels),
      NUM_SAMPLES: _int_feature(waveform.shape[0]),
      DURATION_S: _float_feature(
          waveform.shape[0] / audio.TARGET_SAMPLE_RATE),
      PEAK: _float_feature(peak),
      RMS_DBFS: _float_feature(20 * np.log10(max(rms, 1e-10))),
      AUDIO: tf.train.Feature(float_list=tf.train.FloatList(
          value=waveform.astype(np.float32))),
  }))
