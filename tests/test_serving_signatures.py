"""The model the demo pipeline pushed: signatures, edge cases, card, warm-up.

Everything runs on the pushed version folder, as TF Serving would load it.
"""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from yamnet import spec
from data import audio
from serving import contract

# Measured 1.2e-7 (float32 summation order) on the 44.1 kHz clip below.
TRAIN_SERVE_TOLERANCE = 1e-5


@pytest.fixture(scope='module')
def pushed(demo_run):
  """(version folder, loaded model) of the version the demo run pushed.

  Other test modules run more pipelines on the same output (later versions),
  so the version is the one the demo run's own summary names.
  """
  config, summary = demo_run
  path = summary.pushed_path
  assert os.path.dirname(path) == config.serving_model_dir
  assert os.path.basename(path).isdigit()
  return path, tf.saved_model.load(path, tags=['serve'])


def _outputs(model, signature, **inputs):
  tensors = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
  return {k: v.numpy() for k, v in
          model.signatures[signature](**tensors).items()}


def _clip(seconds, rate=audio.TARGET_SAMPLE_RATE, channels=1, seed=0):
  """A bark-like clip: a decaying 700 Hz tone over noise."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(seconds * rate)) / rate
  x = 0.5 * np.sin(2 * np.pi * 700 * t) * np.exp(-3 * (t % 0.5))
  x = x[:, None] + 0.05 * rng.standard_normal((t.size, channels))
  return np.clip(x, -1, 1).astype(np.float32)


def test_run_validated_and_pushed_the_model(demo_run, pushed):
  config, summary = demo_run
  assert summary.serving_check.passed, summary.serving_check
  # Output folders are named by execution id: the demo run's is the first.
  blessing = min(glob.glob(os.path.join(
      config.pipeline_root, 'ServingModelValidator', 'blessing', '*')),
                 key=lambda p: int(os.path.basename(p)))
  assert os.path.exists(os.path.join(blessing, 'INFRA_BLESSED'))
  with open(os.path.join(blessing, 'servable_check.json')) as f:
    report = json.load(f)
  assert report['ok'] and not report['failures']
  for check in ('loads with tag serve', 'warm-up request 1 (serving_wav) runs',
                'serving_wav on the tone as 44.1 kHz stereo 16-bit WAV: '
                'probabilities are >= 0 and sum to 1'):
    assert check in report['checks']
  assert summary.pushed_path == pushed[0]
  # Only integer version folders beside it: no staging folder left behind.
  assert all(name.isdigit()
             for name in os.listdir(os.path.dirname(pushed[0])))


def test_signatures_inputs_and_outputs(pushed):
  _, model = pushed
  assert set(model.signatures) == {
      contract.SERVING_SIGNATURE, contract.WAV_SIGNATURE,
      contract.DECODE_SIGNATURE, contract.EVALUATION_SIGNATURE,
      contract.CLIP_EVALUATION_SIGNATURE, contract.CLIP_LABEL_SIGNATURE,
      contract.TIMELINE_SIGNATURE}
  inputs = {name: model.signatures[name].structured_input_signature[1]
            for name in (contract.SERVING_SIGNATURE, contract.WAV_SIGNATURE)}
  assert {k: (v.dtype, v.shape.as_list()) for k, v in
          inputs[contract.SERVING_SIGNATURE].items()} == {
              'audio': (tf.float32, [None])}
  assert {k: (v.dtype, v.shape.as_list()) for k, v in
          inputs[contract.WAV_SIGNATURE].items()} == {
              'wav': (tf.string, [])}
  for name in (contract.SERVING_SIGNATURE, contract.WAV_SIGNATURE):
    outputs = model.signatures[name].structured_outputs
    assert {k: (v.dtype, v.shape.as_list()) for k, v in outputs.items()} == {
        'classifier': (tf.float32, [2]), 'probabilities': (tf.float32, [2]),
        'class_index': (tf.int32, []), 'class_name': (tf.string, []),
        'class_names': (tf.string, [2])}
  timeline = model.signatures[contract.TIMELINE_SIGNATURE]
  assert {k: (v.dtype, v.shape.as_list()) for k, v in
          timeline.structured_input_signature[1].items()} == {
              'audio': (tf.float32, [None])}
  assert {k: (v.dtype, v.shape.as_list()) for k, v in
          timeline.structured_outputs.items()} == {
              'start_s': (tf.float32, [None]), 'end_s': (tf.float32, [None]),
              'logits': (tf.float32, [None, 2]),
              'probabilities': (tf.float32, [None, 2]),
              'class_index': (tf.int32, [None]),
              'class_name': (tf.string, [None]),
              'class_names': (tf.string, [2]),
              'yamnet_class_name': (tf.string, [None]),
              'yamnet_score': (tf.float32, [None])}


def test_recipe_calls_and_serving_default_agree(pushed):
  _, model = pushed
  waveform = tf.constant(_clip(3.0)[:, 0])
  scores = model(waveform).numpy()
  out = _outputs(model, 'serving_default', audio=waveform)
  np.testing.assert_allclose(
      model.signatures['serving_default'](waveform)['classifier'].numpy(),
      scores, atol=1e-6)
  np.testing.assert_allclose(out['probabilities'],
                             np.exp(scores) / np.exp(scores).sum(), atol=1e-6)
  assert out['class_index'] == np.argmax(scores)
  assert out['class_name'] == out['class_names'][out['class_index']]
  assert [n.decode() for n in out['class_names']] == ['dog', 'cat']


def test_serving_wav_hears_a_44k_file_as_training_did(pushed):
  """Train/serve consistency: in-graph decode == ExampleGen's decode."""
  _, model = pushed
  wav = audio.encode_wav(_clip(5.0, rate=44100, channels=2), 44100)
  training_waveform = audio.to_mono_16k(*audio.decode_audio(wav))
  decoded = _outputs(model, 'decode_wav', wav=tf.constant(wav))
  assert decoded['source_sample_rate'] == 44100
  assert decoded['source_channels'] == 2
  assert decoded['audio'].shape == training_waveform.shape
  assert np.abs(decoded['audio'] - training_waveform).max() < (
      TRAIN_SERVE_TOLERANCE)
  served = _outputs(model, 'serving_wav', wav=tf.constant(wav))
  expected = _outputs(model, 'serving_default',
                      audio=tf.constant(training_waveform))
  np.testing.assert_allclose(served['classifier'], expected['classifier'],
                             atol=1e-4)
  assert served['class_name'] == expected['class_name']


def test_clip_shorter_than_a_patch_is_padded_to_one(pushed):
  _, model = pushed
  short = _clip(0.3)[:, 0]
  padded = np.pad(short, (0, spec.PATCH_SAMPLES - short.size))
  np.testing.assert_allclose(
      _outputs(model, 'serving_default', audio=short)['classifier'],
      _outputs(model, 'serving_default', audio=padded)['classifier'],
      atol=1e-5)


def test_ten_minute_wav_is_classified(pushed):
  _, model = pushed
  wav = audio.encode_wav(_clip(600.0, rate=44100), 44100)
  out = _outputs(model, 'serving_wav', wav=tf.constant(wav))
  assert np.all(np.isfinite(out['classifier']))
  assert abs(out['probabilities'].sum() - 1) < 1e-5


@pytest.mark.parametrize('waveform,message', [
    (np.zeros(0, np.float32), 'audio is empty'),
    (np.array([0.1, np.nan, 0.2], np.float32), 'NaN or Inf'),
    (np.array([0.1, np.inf], np.float32), 'NaN or Inf'),
])
def test_bad_waveforms_fail_with_invalid_argument(pushed, waveform, message):
  _, model = pushed
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    model.signatures['serving_default'](audio=tf.constant(waveform))


@pytest.mark.parametrize('wav,message', [
    (b'', 'not a WAV file'),
    (b'fLaC\x00\x00\x00\x22 not a wav', 'not a WAV file'),
    (audio.encode_wav(np.zeros(100, np.float32), 16000, 'ALAW'),
     'unsupported WAV encoding'),
    (audio.encode_wav(np.array([np.nan] * 4, np.float32), 16000, 'FLOAT'),
     'WAV file has NaN or Inf samples'),
])
def test_bad_wav_bytes_fail_with_invalid_argument(pushed, wav, message):
  _, model = pushed
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    model.signatures['serving_wav'](wav=tf.constant(wav))


@pytest.mark.parametrize('signature,inputs,message', [
    ('serving_default', {'audio': tf.zeros([2, 16000])},
     r'Shape of tensor audio \[2,16000\] is not compatible'),
    ('serving_default', {'audio': tf.zeros([])},
     r'Shape of tensor audio \[\] is not compatible'),
    ('serving_default', {'audio': tf.zeros([16000], tf.int32)},
     'expected to be a float tensor but is a int32 tensor'),
    ('serving_default', {'audio': tf.constant(['a'])},
     'expected to be a float tensor but is a string tensor'),
    ('serving_wav', {'wav': tf.constant([b'RIFF', b'RIFF'])},
     r'Shape of tensor wav \[2\] is not compatible'),
    ('serving_wav', {'wav': tf.zeros([])},
     'expected to be a string tensor but is a float tensor'),
])
def test_signatures_reject_wrong_rank_and_dtype(pushed, signature, inputs,
                                                message):
  """As TF Serving runs them: the graph itself refuses, with InvalidArgument."""
  _, model = pushed
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    model.signatures[signature](**inputs)


def test_model_card_describes_the_pushed_model(pushed, demo_run):
  path, model = pushed
  config, _ = demo_run
  with open(os.path.join(path, contract.MODEL_CARD)) as f:
    card = json.load(f)
  assert card['class_names'] == ['dog', 'cat']
  assert card['yamnet_handle'] == config.yamnet_handle
  assert card['sample_rate'] == 16000
  for name, function in model.signatures.items():
    described = card['signatures'][name]
    assert described['inputs'] == {
        k: {'dtype': v.dtype.name, 'shape': v.shape.as_list()}
        for k, v in function.structured_input_signature[1].items()}
    assert described['outputs'] == {
        k: {'dtype': v.dtype.name, 'shape': v.shape.as_list()}
        for k, v in function.structured_outputs.items()}


def test_warmup_requests_cover_both_signatures_and_run(pushed):
  path, model = pushed
  requests = [prediction_log_pb2.PredictionLog.FromString(
      record.numpy()).predict_log.request for record in
              tf.data.TFRecordDataset(os.path.join(path,
                                                   contract.WARMUP_FILE))]
  assert [r.model_spec.signature_name for r in requests] == [
      'serving_default', 'serving_wav']
  for request in requests:
    out = model.signatures[request.model_spec.signature_name](**{
        k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
    assert abs(float(tf.reduce_sum(out['probabilities'])) - 1) < 1e-5
