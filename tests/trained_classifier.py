"""A classifier whose head learned something: trained on synthetic dog, cat
and rain clips over the stand-in YAMNet, for tests of what a served model
answers (timelines, TFLite). Seconds, no pipeline run."""

import csv
import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from data import audio
from data import synthetic
from models import hyperparameters as hp
from models import model
from serving import classifier_module
from yamnet import loader

CLASSES = ['dog', 'cat', 'rain']


def train_and_export(out_dir: str, yamnet_handle: str
                    ) -> Tuple[str, Dict[str, List[np.ndarray]]]:
  """(model base with version 1, {class: 16 kHz clips it was trained on})."""
  yamnet = loader.load_yamnet(yamnet_handle)
  root = os.path.join(out_dir, 'esc50')
  synthetic.write_synthetic_esc50(root, CLASSES, clips_per_class_per_fold=6,
                                  seed=1)
  with open(os.path.join(root, 'meta', 'esc50.csv')) as f:
    rows = list(csv.DictReader(f))
  clips = {c: [audio.read_waveform(os.path.join(root, 'audio', r['filename']))
               for r in rows if r['category'] == c] for c in CLASSES}
  embeddings, labels = [], []
  for index, name in enumerate(CLASSES):
    for waveform in clips[name]:
      _, patch_embeddings, _ = yamnet(tf.constant(waveform))
      embeddings.append(patch_embeddings.numpy())
      labels += [index] * patch_embeddings.shape[0]
  patches = tf.data.Dataset.from_tensor_slices(
      (np.concatenate(embeddings), np.array(labels)))
  head, _ = model.fit_head(patches, patches, len(CLASSES),
                           hp.Hyperparameters(epochs=5))
  base = os.path.join(out_dir, 'serving')
  classifier_module.export_classifier(os.path.join(base, '1'), yamnet,
                                      model.head_weights(head), CLASSES)
  return base, clips
