"""YAMNet in blocks of patches, the serving_timeline signature and the
length bound, on an export over the stand-in YAMNet."""

import numpy as np
import pytest
import tensorflow as tf

from data import audio
from serving import classifier_module
from serving import contract
from serving import yamnet_blocks
from yamnet import loader
from yamnet import spec

MAX_SECONDS = 120.0


@pytest.fixture(scope='module')
def yamnet(standin_yamnet):
  return loader.load_yamnet(standin_yamnet)


@pytest.fixture(scope='module')
def exported(yamnet, tmp_path_factory):
  """A random 3-class head over the stand-in, accepting at most 120 s."""
  rng = np.random.default_rng(0)
  weights = [rng.normal(0, 0.05, (1024, 512)).astype(np.float32),
             np.zeros(512, np.float32),
             rng.normal(0, 0.05, (512, 3)).astype(np.float32),
             np.array([0.1, -0.1, 0.0], np.float32)]
  path = str(tmp_path_factory.mktemp('timeline') / 'model')
  classifier_module.export_classifier(path, yamnet, weights,
                                      ['dog', 'cat', 'rooster'],
                                      max_audio_seconds=MAX_SECONDS)
  return tf.saved_model.load(path)


def _noise(num_samples, seed=0):
  return np.random.default_rng(seed).uniform(-0.5, 0.5, num_samples).astype(
      np.float32)


def _yamnet_in_blocks(yamnet, waveform):
  """(scores, embeddings) of every patch, computed block by block as the
  served model computes them."""
  return yamnet_blocks.map_patches(
      yamnet, tf.size(waveform), yamnet_blocks.slice_reader(waveform),
      lambda scores, embeddings: (scores, embeddings),
      (tf.TensorSpec([None, spec.NUM_CLASSES], tf.float32),
       tf.TensorSpec([None, spec.EMBEDDING_SIZE], tf.float32)))


@pytest.mark.parametrize('num_samples', [
    100,  # shorter than a patch
    spec.PATCH_SAMPLES,
    yamnet_blocks.BLOCK_SAMPLES,  # exactly one block
    yamnet_blocks.BLOCK_SAMPLES + 1,  # one sample into a second block
    2 * yamnet_blocks.BLOCK_PATCHES * spec.PATCH_HOP_SAMPLES + 12345,
])
def test_blocks_give_what_yamnet_gives_on_the_whole_waveform(yamnet,
                                                            num_samples):
  waveform = tf.constant(_noise(num_samples, seed=num_samples))
  scores, embeddings, _ = yamnet(waveform)
  block_scores, block_embeddings = tf.function(
      lambda w: _yamnet_in_blocks(yamnet, w))(waveform)
  assert block_embeddings.shape == embeddings.shape
  assert int(yamnet_blocks.num_patches(num_samples)) == embeddings.shape[0]
  np.testing.assert_allclose(block_embeddings, embeddings, atol=1e-4)
  np.testing.assert_allclose(block_scores, scores, atol=1e-5)


def test_timeline_logits_average_to_serving_default(exported):
  waveform = tf.constant(_noise(16000 * 40, seed=3))
  timeline = exported.signatures[contract.TIMELINE_SIGNATURE](audio=waveform)
  served = exported.signatures[contract.SERVING_SIGNATURE](audio=waveform)
  np.testing.assert_allclose(
      timeline['logits'].numpy().mean(axis=0), served['classifier'].numpy(),
      atol=1e-5)
  count = int(yamnet_blocks.num_patches(16000 * 40))
  start = timeline[contract.TIMELINE_START].numpy()
  np.testing.assert_allclose(start, np.arange(count) * 0.48, atol=1e-5)
  np.testing.assert_allclose(timeline[contract.TIMELINE_END].numpy() - start,
                             0.96, atol=1e-5)
  probabilities = timeline['probabilities'].numpy()
  assert probabilities.shape == (count, 3)
  np.testing.assert_array_equal(timeline['class_index'].numpy(),
                                probabilities.argmax(axis=1))
  names = [n.decode() for n in timeline['class_name'].numpy()]
  assert names == [['dog', 'cat', 'rooster'][i]
                   for i in probabilities.argmax(axis=1)]


def test_timeline_names_yamnets_own_top_class(exported, yamnet):
  waveform = tf.constant(_noise(16000 * 3, seed=4))
  timeline = exported.signatures[contract.TIMELINE_SIGNATURE](audio=waveform)
  scores, _, _ = yamnet(waveform)
  audioset = classifier_module.yamnet_class_names(yamnet)
  assert len(audioset) == spec.NUM_CLASSES
  assert [n.decode() for n in
          timeline[contract.TIMELINE_YAMNET_CLASS].numpy()] == [
              audioset[i] for i in scores.numpy().argmax(axis=1)]
  np.testing.assert_allclose(timeline[contract.TIMELINE_YAMNET_SCORE],
                             scores.numpy().max(axis=1), atol=1e-5)


@pytest.mark.parametrize('signature', [contract.SERVING_SIGNATURE,
                                       contract.TIMELINE_SIGNATURE])
def test_audio_longer_than_the_maximum_is_refused(exported, signature):
  too_long = tf.zeros([int(16000 * MAX_SECONDS) + 1])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='this model accepts at most 120 s'):
    exported.signatures[signature](audio=too_long)


def test_wav_longer_than_the_maximum_is_refused(exported):
  wav = audio.encode_wav(np.zeros(int(8000 * (MAX_SECONDS + 1)), np.float32),
                         8000)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='121 s long; this model accepts at most 120 s'):
    exported.signatures[contract.WAV_SIGNATURE](wav=tf.constant(wav))


def test_wav_decoded_block_by_block_is_classified_as_its_whole_waveform(
    exported):
  """serving_wav decodes and resamples each block from the bytes; a 44.1 kHz
  stereo file three blocks long scores as its whole decoded waveform does."""
  rng = np.random.default_rng(5)
  stereo = rng.uniform(-0.5, 0.5, (44100 * 70, 2)).astype(np.float32)
  wav = tf.constant(audio.encode_wav(stereo, 44100))
  waveform = exported.signatures[contract.DECODE_SIGNATURE](wav=wav)[
      contract.AUDIO_INPUT]
  assert int(yamnet_blocks.num_patches(tf.size(waveform))) > (
      2 * yamnet_blocks.BLOCK_PATCHES)
  served = exported.signatures[contract.SERVING_SIGNATURE](audio=waveform)
  from_wav = exported.signatures[contract.WAV_SIGNATURE](wav=wav)
  np.testing.assert_allclose(from_wav['classifier'], served['classifier'],
                             rtol=0, atol=1e-6)
