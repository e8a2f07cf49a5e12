"""Builds a YAMNet-shaped SavedModel with seeded random weights.

TF Hub is out of reach offline and in CI, so tests and the demo need a model
that loads, calls, frames and serves exactly as TF Hub's YAMNet: same frontend,
same MobileNet-v1 body, same outputs and signature. Its weights are random, so
its scores mean nothing; its embeddings still separate different sounds.
"""

import csv
import os
import tempfile
from typing import Tuple

import numpy as np
import tensorflow as tf

from yamnet import spec

CLASS_MAP_FILENAME = 'yamnet_class_map.csv'

_STFT_WINDOW = 400
_STFT_HOP = 160
_FFT_LENGTH = 512
_MEL_MIN_HZ = 125.0
_MEL_MAX_HZ = 7500.0
_LOG_OFFSET = 0.001
_FIRST_CONV_CHANNELS = 32
# (pointwise channels, stride) of YAMNet's 13 depthwise-separable blocks.
_SEPARABLE_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1),
                     (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
                     (512, 1), (1024, 2), (1024, 1))
_BATCH_NORM_EPSILON = 1e-4


def _log_mel_patches(waveform: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """YAMNet's frontend: ([M, 64] log-mel, [N, 96, 64] patches) of a clip."""
  num_samples = tf.shape(waveform)[0]
  # Whole patch hops past the first patch, rounded up: no sample is dropped.
  hops = -(-tf.maximum(0, num_samples - spec.PATCH_SAMPLES) //
           spec.PATCH_HOP_SAMPLES)
  padded_samples = spec.PATCH_SAMPLES + spec.PATCH_HOP_SAMPLES * hops
  waveform = tf.pad(waveform, [[0, padded_samples - num_samples]])
  magnitude = tf.abs(
      tf.signal.stft(
          waveform,
          frame_length=_STFT_WINDOW,
          frame_step=_STFT_HOP,
          fft_length=_FFT_LENGTH,
          window_fn=tf.signal.hann_window))
  mel_matrix = tf.signal.linear_to_mel_weight_matrix(
      num_mel_bins=spec.NUM_MEL_BINS,
      num_spectrogram_bins=_FFT_LENGTH // 2 + 1,
      sample_rate=spec.SAMPLE_RATE,
      lower_edge_hertz=_MEL_MIN_HZ,
      upper_edge_hertz=_MEL_MAX_HZ)
  log_mel = tf.math.log(tf.matmul(magnitude, mel_matrix) + _LOG_OFFSET)
  patches = tf.signal.frame(
      log_mel, spec.PATCH_FRAMES, spec.PATCH_HOP_FRAMES, axis=0)
  return log_mel, patches


def _calibration_patches(rng: np.random.Generator) -> tf.Tensor:
  """Patches of varied synthetic sounds, whose statistics set the batch norm."""
  t = np.arange(spec.PATCH_SAMPLES) / spec.SAMPLE_RATE
  clips = [np.zeros_like(t)]
  for level in (1e-3, 1e-2, 0.1, 0.5):
    clips.append(level * rng.standard_normal(t.size))
  for _ in range(8):
    freq, level = rng.uniform(60.0, 7000.0), rng.uniform(0.01, 0.8)
    clips.append(level * np.sin(2 * np.pi * freq * t))
  for _ in range(4):
    f0, f1 = rng.uniform(60.0, 7000.0, size=2)
    clips.append(0.3 * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / t[-1] / 2) * t))
  clicks = np.zeros_like(t)
  clicks[::1600] = 1.0
  clips.append(clicks)
  return tf.concat(
      [_log_mel_patches(tf.constant(c, tf.float32))[1] for c in clips], axis=0)


def _fold_batch_norm(pre_activation: tf.Tensor, kernel: np.ndarray,
                     channel_axis: int) -> Tuple[np.ndarray, np.ndarray]:
  """Rescales a layer so its outputs are zero-mean, unit-variance per channel.

  Trained YAMNet has batch norm folded into every layer; without it, a random
  ReLU stack drives all inputs towards the same embedding.

  Args:
    pre_activation: The layer's output on the calibration patches (zero bias).
    kernel: The layer's kernel.
    channel_axis: The kernel's output-channel axis.

  Returns:
    The folded kernel and bias.
  """
  mean, variance = tf.nn.moments(pre_activation, axes=[0, 1, 2])
  scale = 1.0 / np.sqrt(variance.numpy() + _BATCH_NORM_EPSILON)
  shape = [1] * kernel.ndim
  shape[channel_axis] = -1
  return ((kernel * scale.reshape(shape)).astype(np.float32),
          (-mean.numpy() * scale).astype(np.float32))


def _he_normal(rng: np.random.Generator, shape: Tuple[int, ...],
               fan_in: int) -> np.ndarray:
  return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(
      np.float32)


class _StandinYamnet(tf.Module):
  """YAMNet's frontend and MobileNet-v1 body with random, calibrated weights."""

  def __init__(self, seed: int, class_map_csv: str):
    super().__init__()
    rng = np.random.default_rng(seed)
    x = _calibration_patches(rng)[..., tf.newaxis]

    kernel = _he_normal(rng, (3, 3, 1, _FIRST_CONV_CHANNELS), 9)
    kernel, bias = _fold_batch_norm(
        tf.nn.conv2d(x, kernel, 2, 'SAME'), kernel, channel_axis=3)
    self._conv_kernel = tf.Variable(kernel)
    self._conv_bias = tf.Variable(bias)
    x = tf.nn.relu(tf.nn.conv2d(x, kernel, 2, 'SAME') + bias)

    self._depthwise_kernels, self._depthwise_biases = [], []
    self._pointwise_kernels, self._pointwise_biases = [], []
    channels_in = _FIRST_CONV_CHANNELS
    for channels, stride in _SEPARABLE_BLOCKS:
      # Non-negative depthwise kernels blur, as trained ones mostly do; signed
      # random ones are high-pass filters that amplify noise, so embeddings of
      # one steady sound would vary more between patches than between sounds.
      kernel = np.abs(_he_normal(rng, (3, 3, channels_in, 1), 9))
      kernel, bias = _fold_batch_norm(
          self._depthwise(x, kernel, stride), kernel, channel_axis=2)
      self._depthwise_kernels.append(tf.Variable(kernel))
      self._depthwise_biases.append(tf.Variable(bias))
      x = tf.nn.relu(self._depthwise(x, kernel, stride) + bias)

      kernel = _he_normal(rng, (1, 1, channels_in, channels), channels_in)
      kernel, bias = _fold_batch_norm(
          tf.nn.conv2d(x, kernel, 1, 'SAME'), kernel, channel_axis=3)
      self._pointwise_kernels.append(tf.Variable(kernel))
      self._pointwise_biases.append(tf.Variable(bias))
      x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, 'SAME') + bias)
      channels_in = channels

    # LeCun-normal logits, so that scores spread around 0.5.
    self._dense_kernel = tf.Variable(
        (rng.standard_normal((spec.EMBEDDING_SIZE, spec.NUM_CLASSES)) /
         np.sqrt(spec.EMBEDDING_SIZE)).astype(np.float32))
    self._dense_bias = tf.Variable(np.zeros(spec.NUM_CLASSES, np.float32))
    self._class_map = tf.saved_model.Asset(class_map_csv)

  @staticmethod
  def _depthwise(x: tf.Tensor, kernel: tf.Tensor, stride: int) -> tf.Tensor:
    return tf.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], 'SAME')

  def _embed(self, patches: tf.Tensor) -> tf.Tensor:
    """[N, 96, 64, 1] patches, as one batch, -> [N, 1024] embeddings."""
    x = tf.nn.relu(
        tf.nn.conv2d(patches, self._conv_kernel, 2, 'SAME') + self._conv_bias)
    for i, (_, stride) in enumerate(_SEPARABLE_BLOCKS):
      x = tf.nn.relu(
          self._depthwise(x, self._depthwise_kernels[i], stride) +
          self._depthwise_biases[i])
      x = tf.nn.relu(
          tf.nn.conv2d(x, self._pointwise_kernels[i], 1, 'SAME') +
          self._pointwise_biases[i])
    return tf.reduce_mean(x, axis=[1, 2])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(
      self, waveform: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """16 kHz waveform in [-1, 1] -> (scores, embeddings, log_mel)."""
    log_mel, patches = _log_mel_patches(waveform)
    embeddings = self._embed(patches[..., tf.newaxis])
    scores = tf.sigmoid(
        tf.matmul(embeddings, self._dense_kernel) + self._dense_bias)
    return scores, embeddings, log_mel

  @tf.function(input_signature=[])
  def class_map_path(self) -> tf.Tensor:
    return self._class_map.asset_path


def _write_class_map(path: str) -> None:
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['index', 'mid', 'display_name'])
    for i in range(spec.NUM_CLASSES):
      writer.writerow([i, f'/standin/{i:03d}', f'standin_class_{i:03d}'])


def build_standin_yamnet(export_dir: str, seed: int = 0) -> str:
  """Writes a YAMNet-shaped SavedModel with weights drawn from seed.

  Args:
    export_dir: Directory (any tf.io.gfile filesystem) to write it to.
    seed: Same seed, same weights.

  Returns:
    export_dir, to pass as the YAMNet handle.
  """
  with tempfile.TemporaryDirectory() as tmp:
    # Saving copies the asset into export_dir/assets, so tmp can go.
    class_map_csv = os.path.join(tmp, CLASS_MAP_FILENAME)
    _write_class_map(class_map_csv)
    model = _StandinYamnet(seed, class_map_csv)
    tf.saved_model.save(
        model,
        export_dir,
        signatures={
            'serving_default': model.__call__.get_concrete_function()
        })
  return export_dir
