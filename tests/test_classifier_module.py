"""The exported classifier works with the source recipe's code, verbatim."""

import numpy as np
import pytest
import tensorflow as tf

from yamnet import loader
from serving import classifier_module


@pytest.fixture(scope='module')
def exported(standin_yamnet, tmp_path_factory):
  """A classifier with a random 2-class head over the stand-in YAMNet."""
  rng = np.random.default_rng(0)
  weights = [rng.normal(0, 0.05, (1024, 512)).astype(np.float32),
             np.zeros(512, np.float32),
             rng.normal(0, 0.05, (512, 2)).astype(np.float32),
             np.array([0.1, -0.1], np.float32)]
  path = str(tmp_path_factory.mktemp('export') / 'model')
  yamnet = loader.load_yamnet(standin_yamnet)
  classifier_module.export_classifier(path, yamnet, weights, ['dog', 'cat'])
  return path, yamnet, weights


def _expected_scores(yamnet, weights, waveform):
  _, embeddings, _ = yamnet(tf.constant(waveform))
  hidden = np.maximum(embeddings.numpy() @ weights[0] + weights[1], 0)
  return (hidden @ weights[2] + weights[3]).mean(axis=0)


def test_recipe_code_works_on_the_export(exported):
  path, yamnet, weights = exported
  # A tensor, as the recipe's load_wav_16k_mono returns: loaded signatures
  # take tensors only.
  waveform = tf.constant(
      np.sin(np.linspace(0, 2000, 80000)).astype(np.float32) * 0.5)
  my_classes = ['dog', 'cat']
  # The source recipe, verbatim.
  reloaded_model = tf.saved_model.load(path)
  reloaded_results = reloaded_model(waveform)
  your_top_class = tf.math.argmax(reloaded_results)
  inferred_class = my_classes[your_top_class]
  serving_results = reloaded_model.signatures['serving_default'](waveform)
  expected = _expected_scores(yamnet, weights, waveform)
  np.testing.assert_allclose(reloaded_results.numpy(), expected, atol=1e-4)
  np.testing.assert_allclose(serving_results['classifier'].numpy(), expected,
                             atol=1e-4)
  assert inferred_class == my_classes[int(np.argmax(expected))]


def test_serving_outputs_and_class_names(exported):
  path, yamnet, weights = exported
  model = tf.saved_model.load(path)
  waveform = np.random.default_rng(1).uniform(-0.3, 0.3, 40000).astype(
      np.float32)
  out = model.signatures['serving_default'](audio=tf.constant(waveform))
  scores = _expected_scores(yamnet, weights, waveform)
  probabilities = np.exp(scores) / np.exp(scores).sum()
  np.testing.assert_allclose(out['probabilities'].numpy(), probabilities,
                             atol=1e-5)
  index = int(np.argmax(scores))
  assert int(out['class_index']) == index
  assert out['class_name'].numpy().decode() == ['dog', 'cat'][index]
  labels = open(model.labels_path().numpy().decode()).read().split()
  assert labels == ['dog', 'cat']


def test_evaluation_signature_reads_embedding_examples(exported):
  path, _, weights = exported
  model = tf.saved_model.load(path)
  embeddings = np.random.default_rng(2).uniform(0, 1, (3, 1024)).astype(
      np.float32)
  examples = [tf.train.Example(features=tf.train.Features(feature={
      'embedding': tf.train.Feature(float_list=tf.train.FloatList(value=e))
  })).SerializeToString() for e in embeddings]
  probabilities = model.signatures['evaluation'](
      examples=tf.constant(examples))['probabilities'].numpy()
  hidden = np.maximum(embeddings @ weights[0] + weights[1], 0)
  logits = hidden @ weights[2] + weights[3]
  expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def _clip_examples(clips):
  return tf.constant([tf.train.Example(features=tf.train.Features(feature={
      'audio': tf.train.Feature(float_list=tf.train.FloatList(value=audio)),
      'category': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[category.encode()])),
  })).SerializeToString() for audio, category in clips])


def test_clip_evaluation_signature_is_the_served_computation(exported):
  path, _, _ = exported
  model = tf.saved_model.load(path)
  rng = np.random.default_rng(3)
  # Clips of different lengths in one batch, one shorter than a patch.
  waveforms = [rng.uniform(-0.4, 0.4, n).astype(np.float32)
               for n in (80000, 12000, 33333)]
  probabilities = model.signatures['clip_evaluation'](
      examples=_clip_examples([(w, 'dog') for w in waveforms])
  )['probabilities'].numpy()
  served = np.stack([
      model.signatures['serving_default'](audio=tf.constant(w))[
          'probabilities'].numpy() for w in waveforms])
  np.testing.assert_allclose(probabilities, served, atol=1e-6)


def test_clip_label_is_the_class_index_of_the_category(exported):
  path, _, _ = exported
  model = tf.saved_model.load(path)
  silence = np.zeros(16000, np.float32)
  labels = model.signatures['clip_label'](examples=_clip_examples(
      [(silence, name) for name in ('cat', 'dog', 'rooster')]))
  np.testing.assert_array_equal(labels['label_index'].numpy(), [1, 0, -1])
