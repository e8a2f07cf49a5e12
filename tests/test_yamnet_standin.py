"""Tests that the stand-in YAMNet behaves as TF Hub's YAMNet does."""

import csv
import math
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from yamnet import standin

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
_SHARED_YAMNET = _REPO_ROOT.parent / 'shared' / 'yamnet-savedmodel'

# Patches TF Hub's YAMNet returns for these lengths (0.975 s fills one patch,
# each further 0.48 s, or part of it, adds one).
_PATCHES_BY_LENGTH = {
    0: 1, 1: 1, 15599: 1, 15600: 1, 15601: 2, 23280: 2, 23281: 3, 80000: 10
}


def _expected_shapes(num_samples):
  patches = 1 + math.ceil(max(0, num_samples - 15600) / 7680)
  frames = 96 + 48 * (patches - 1)
  return [(patches, 521), (patches, 1024), (frames, 64)]


def _noise(num_samples, seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(-0.5, 0.5, num_samples).astype(np.float32)


def _tone(hz, num_samples=80000):
  t = np.arange(num_samples) / 16000
  return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _outputs(model, waveform):
  return [x.numpy() for x in model(tf.constant(waveform))]


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory):
  return standin.build_standin_yamnet(
      str(tmp_path_factory.mktemp('standin') / 'yamnet'), seed=0)


@pytest.fixture(scope='module')
def model(export_dir):
  return tf.saved_model.load(export_dir)


@pytest.mark.parametrize('num_samples', sorted(_PATCHES_BY_LENGTH))
def test_output_shapes_follow_yamnet_padding_rule(model, num_samples):
  outputs = model(tf.zeros([num_samples]))
  assert [tuple(x.shape) for x in outputs] == _expected_shapes(num_samples)
  assert outputs[0].shape[0] == _PATCHES_BY_LENGTH[num_samples]
  assert all(x.dtype == tf.float32 for x in outputs)


def test_shapes_and_log_mel_match_shared_model(model):
  if not _SHARED_YAMNET.is_dir():
    pytest.skip(f'shared YAMNet SavedModel not found at {_SHARED_YAMNET}')
  real = tf.saved_model.load(str(_SHARED_YAMNET))
  for num_samples in _PATCHES_BY_LENGTH:
    waveform = _noise(num_samples)
    ours, theirs = _outputs(model, waveform), _outputs(real, waveform)
    assert [x.shape for x in ours] == [x.shape for x in theirs], num_samples
    # Same frontend, so the log-mel agrees although the weights do not.
    np.testing.assert_allclose(ours[2], theirs[2], atol=1e-5)


def test_five_second_clip_gives_ten_patches_and_short_clip_one(model):
  assert model(tf.constant(_noise(80000)))[1].shape[0] == 10
  assert model(tf.constant(_noise(15600)))[1].shape[0] == 1
  assert model(tf.constant(_noise(8000)))[1].shape[0] == 1


def test_each_patch_equals_a_call_on_its_own_window(model):
  waveform = _noise(80000, seed=3) + _tone(440)
  scores, embeddings, log_mel = _outputs(model, waveform)
  padded = np.pad(waveform, (0, 15600 + 7680 * 9 - 80000))
  for i in range(10):
    window = padded[7680 * i:7680 * i + 15600]
    window_scores, window_embeddings, window_log_mel = _outputs(model, window)
    np.testing.assert_allclose(embeddings[i], window_embeddings[0], atol=1e-4)
    np.testing.assert_allclose(scores[i], window_scores[0], atol=1e-4)
    np.testing.assert_allclose(
        log_mel[48 * i:48 * i + 96], window_log_mel, atol=1e-4)


def _numpy_mel_matrix():
  """HTK-mel triangles over the 257 FFT bins, DC bin left out."""
  hz_to_mel = lambda hz: 1127.0 * np.log1p(hz / 700.0)
  bin_mel = hz_to_mel(np.linspace(0.0, 8000.0, 257))[1:, np.newaxis]
  edges = np.linspace(hz_to_mel(125.0), hz_to_mel(7500.0), 64 + 2)
  lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
  weights = np.maximum(
      0.0,
      np.minimum((bin_mel - lower) / (center - lower),
                 (upper - bin_mel) / (upper - center)))
  return np.vstack([np.zeros((1, 64)), weights])


def _numpy_log_mel(waveform):
  hops = -(-max(0, len(waveform) - 15600) // 7680)
  padded = np.pad(waveform.astype(np.float64),
                  (0, 15600 + 7680 * hops - len(waveform)))
  num_frames = 1 + (len(padded) - 400) // 160
  frames = padded[np.arange(num_frames)[:, np.newaxis] * 160 + np.arange(400)]
  periodic_hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
  magnitude = np.abs(np.fft.rfft(frames * periodic_hann, n=512))
  return np.log(magnitude @ _numpy_mel_matrix() + 0.001)


@pytest.mark.parametrize('num_samples', [1, 15601, 80000])
def test_log_mel_equals_independent_numpy_frontend(model, num_samples):
  waveform = _noise(num_samples, seed=5) + _tone(1000, num_samples)
  log_mel = model(tf.constant(waveform))[2].numpy()
  np.testing.assert_allclose(log_mel, _numpy_log_mel(waveform), atol=1e-4)


def test_same_seed_same_outputs_other_seed_different(model, tmp_path):
  waveform = _noise(40000, seed=7)
  again = tf.saved_model.load(
      standin.build_standin_yamnet(str(tmp_path / 'seed0'), seed=0))
  other = tf.saved_model.load(
      standin.build_standin_yamnet(str(tmp_path / 'seed1'), seed=1))
  for ours, rebuilt in zip(_outputs(model, waveform), _outputs(again, waveform)):
    np.testing.assert_array_equal(ours, rebuilt)
  scores, embeddings, log_mel = _outputs(model, waveform)
  other_scores, other_embeddings, other_log_mel = _outputs(other, waveform)
  assert np.abs(embeddings - other_embeddings).max() > 0.1
  assert np.abs(scores - other_scores).max() > 0.1
  np.testing.assert_array_equal(log_mel, other_log_mel)


def test_hub_load_and_saved_model_load_agree(model, export_dir):
  waveform = _noise(30000, seed=9)
  from_hub = hub.load(export_dir)
  for ours, hubs in zip(_outputs(model, waveform),
                        _outputs(from_hub, waveform)):
    np.testing.assert_array_equal(ours, hubs)


def test_serving_default_signature(model):
  waveform = tf.constant(_noise(20000, seed=11))
  signature = model.signatures['serving_default']
  assert list(signature.structured_input_signature[1]) == ['waveform']
  outputs = signature(waveform=waveform)
  assert sorted(outputs) == ['output_0', 'output_1', 'output_2']
  for i, expected in enumerate(model(waveform)):
    np.testing.assert_array_equal(outputs[f'output_{i}'].numpy(),
                                  expected.numpy())


def test_class_map_moves_with_the_directory(export_dir, tmp_path):
  original = tmp_path / 'original'
  shutil.copytree(export_dir, original)
  moved = pathlib.Path(shutil.move(str(original), str(tmp_path / 'moved')))
  assert not original.exists()
  path = pathlib.Path(
      tf.saved_model.load(str(moved)).class_map_path().numpy().decode())
  assert path.parent.parent == moved and path.is_file()
  with path.open(newline='') as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['index', 'mid', 'display_name']
  assert len(rows) == 1 + 521
  assert rows[1][0] == '0' and rows[1][2] == 'standin_class_000'
  assert rows[-1][0] == '520'


def test_embeddings_tell_a_tone_from_noise(model):
  tone = model(tf.constant(_tone(500)))[1].numpy().mean(axis=0)
  noise = model(tf.constant(
      np.random.default_rng(13).uniform(-1, 1, 80000).astype(
          np.float32)))[1].numpy().mean(axis=0)
  for embedding in (tone, noise):
    assert np.all(np.isfinite(embedding))
    # Neither collapsed to a constant nor blown up through the 27 layers.
    assert 1e-2 < embedding.std() < 10.0
    assert 0.0 < np.abs(embedding).max() < 100.0
  cosine = tone @ noise / np.linalg.norm(tone) / np.linalg.norm(noise)
  assert cosine < 0.99
