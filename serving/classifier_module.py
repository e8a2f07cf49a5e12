"""The exported sound classifier: YAMNet + dense head + mean over patches.

Exported as a plain `tf.Module` with `tf.function` signatures (Keras 3 cannot
hold a TF Hub model), so it runs in TF Serving and with the source recipe's
code: `reloaded(waveform)` and `reloaded.signatures['serving_default'](...)`.
"""

import os
import tempfile
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

SERVING_SIGNATURE = 'serving_default'
EVALUATION_SIGNATURE = 'evaluation'
LABELS_ASSET = 'labels.txt'
EMBEDDING_SIZE = 1024


class SoundClassifier(tf.Module):
  """Classifies a 16 kHz mono waveform into the trained classes."""

  def __init__(self, yamnet, head_weights: Sequence[np.ndarray],
               class_names: Sequence[str], labels_file: str):
    super().__init__(name='sound_classifier')
    self.yamnet = yamnet
    hidden_kernel, hidden_bias, output_kernel, output_bias = head_weights
    self.hidden_kernel = tf.Variable(hidden_kernel, trainable=False)
    self.hidden_bias = tf.Variable(hidden_bias, trainable=False)
    self.output_kernel = tf.Variable(output_kernel, trainable=False)
    self.output_bias = tf.Variable(output_bias, trainable=False)
    self.class_names = tf.Variable(list(class_names), trainable=False,
                                   dtype=tf.string)
    self.labels = tf.saved_model.Asset(labels_file)

  def head_logits(self, embeddings: tf.Tensor) -> tf.Tensor:
    """Dense(512, relu) -> Dense(n): per-patch logits."""
    hidden = tf.nn.relu(tf.matmul(embeddings, self.hidden_kernel) +
                        self.hidden_bias)
    return tf.matmul(hidden, self.output_kernel) + self.output_bias

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
    """Class scores (logits) averaged over YAMNet's 0.96 s patches."""
    _, embeddings, _ = self.yamnet(waveform)
    return tf.reduce_mean(self.head_logits(embeddings), axis=0)

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.float32, name='audio')])
  def serve_waveform(self, audio: tf.Tensor) -> Dict[str, tf.Tensor]:
    scores = self(audio)
    class_index = tf.argmax(scores, output_type=tf.int32)
    return {
        'classifier': scores,
        'probabilities': tf.nn.softmax(scores),
        'class_index': class_index,
        'class_name': tf.gather(self.class_names, class_index),
    }

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')])
  def evaluate_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Per-patch probabilities from serialized transformed Examples (TFMA)."""
    parsed = tf.io.parse_example(examples, {
        'embedding': tf.io.FixedLenFeature([EMBEDDING_SIZE], tf.float32)})
    return {'probabilities': tf.nn.softmax(
        self.head_logits(parsed['embedding']))}

  @tf.function(input_signature=[])
  def labels_path(self) -> tf.Tensor:
    """Path of the class-name file (one name per line, in index order)."""
    return self.labels.asset_path


def export_classifier(export_dir: str, yamnet,
                      head_weights: Sequence[np.ndarray],
                      class_names: Sequence[str]) -> str:
  """Writes the SavedModel with its serving and evaluation signatures."""
  with tempfile.TemporaryDirectory() as scratch:
    labels_file = os.path.join(scratch, LABELS_ASSET)
    with open(labels_file, 'w', encoding='utf-8') as f:
      f.write(''.join(f'{name}\n' for name in class_names))
    module = SoundClassifier(yamnet, head_weights, class_names, labels_file)
    tf.saved_model.save(module, export_dir, signatures={
        SERVING_SIGNATURE: module.serve_waveform,
        EVALUATION_SIGNATURE: module.evaluate_examples,
    })
  return export_dir
