"""Classifies wav files with a pushed SavedModel loaded in this process."""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from data import audio
from serving import contract


def model_version_dir(model_dir: str) -> str:
  """A pushed version directory, or the model base's newest version.

  TF Serving's layout is <base>/<integer version>/; given the base, the highest
  version is used, as TF Serving does.
  """
  if tf.io.gfile.exists(f'{model_dir}/saved_model.pb'):
    return model_dir
  versions = [int(name.rstrip('/')) for name in tf.io.gfile.listdir(model_dir)
              if name.rstrip('/').isdigit()]
  if not versions:
    raise FileNotFoundError(
        f'{model_dir} is neither a SavedModel nor a TF Serving model base '
        'with integer version folders')
  return f'{model_dir.rstrip("/")}/{max(versions)}'


def load_classifier(model_dir: str):
  """Loads a pushed version directory (or the model base, picking the newest)."""
  return tf.saved_model.load(model_version_dir(model_dir))


def predict_waveform(model, waveform: np.ndarray) -> Dict[str, object]:
  """Runs serving_default on one 16 kHz waveform."""
  outputs = model.signatures[contract.SERVING_SIGNATURE](
      **{contract.AUDIO_INPUT: tf.constant(waveform, tf.float32)})
  return contract.prediction({k: v.numpy() for k, v in outputs.items()})


def predict_files(model_dir: str, paths: Sequence[str]) -> List[Dict[str, object]]:
  """Decodes each file as the pipeline does (16 kHz mono) and classifies it."""
  model = load_classifier(model_dir)
  return [{'file': path, **predict_waveform(model, audio.read_waveform(path))}
          for path in paths]
