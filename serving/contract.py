"""Names in the serving model's contract, shared by exporter, checks, clients.

Kept free of TensorFlow so that clients and the validator's fresh process can
import it cheaply. docs/serving.md describes the contract for people.
"""

import os

import numpy as np

SERVING_SIGNATURE = 'serving_default'
WAV_SIGNATURE = 'serving_wav'
DECODE_SIGNATURE = 'decode_wav'
EVALUATION_SIGNATURE = 'evaluation'
# Per-patch outputs of a recording of any length (docs/serving.md).
TIMELINE_SIGNATURE = 'serving_timeline'
TIMELINE_START = 'start_s'
TIMELINE_END = 'end_s'
TIMELINE_YAMNET_CLASS = 'yamnet_class_name'
TIMELINE_YAMNET_SCORE = 'yamnet_score'
# An event of a timeline: consecutive patches whose top class is the same,
# each with at least this probability (serving/timeline.py).
DEFAULT_MIN_PROBABILITY = 0.5
# Longest audio a served model accepts (PipelineConfig.max_audio_seconds):
# longer requests are refused before any decoding.
DEFAULT_MAX_AUDIO_SECONDS = 3600.0
# TFMA's clip-level evaluation: the served computation on clip Examples, and
# the preprocessing function that gives their label as a class index.
CLIP_EVALUATION_SIGNATURE = 'clip_evaluation'
CLIP_LABEL_SIGNATURE = 'clip_label'
CLIP_LABEL = 'label_index'
AUDIO_INPUT = 'audio'
WAV_INPUT = 'wav'
OUTPUT_NAMES = ('classifier', 'probabilities', 'class_index', 'class_name',
                'class_names')
LABELS_ASSET = 'labels.txt'
MODEL_CARD = 'model_card.json'
# TF Serving replays these requests when it loads a version, before serving.
WARMUP_FILE = os.path.join('assets.extra', 'tf_serving_warmup_requests')


def probe_tone(seconds: float, sample_rate: int) -> np.ndarray:
  """The 440 Hz tone at half scale that warm-up and validation send."""
  t = np.arange(int(sample_rate * seconds)) / sample_rate
  return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def prediction(outputs) -> dict:
  """{'class_name', 'class_index', 'scores': {class: probability}} of outputs.

  Args:
    outputs: A serving signature's outputs as numpy values or lists, from the
      SavedModel, TF Serving's gRPC API or its REST API (strings as str).
  """
  names = [_text(name) for name in np.asarray(outputs['class_names']).ravel()]
  probabilities = np.asarray(outputs['probabilities'], np.float64).ravel()
  return {
      'class_name': _text(np.asarray(outputs['class_name']).item()),
      'class_index': int(np.asarray(outputs['class_index'])),
      'scores': {name: float(p) for name, p in zip(names, probabilities)},
  }
