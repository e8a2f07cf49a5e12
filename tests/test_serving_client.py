"""serving/client.py and `yamnet-pipeline predict` against a served model.

The server is tests/tf_serving_double.py, a TEST DOUBLE of TF Serving's REST
and gRPC predict APIs over the pushed SavedModel (no TF Serving binary or
Docker here). Results must equal running the same signature in-process.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data import audio
from pipeline import cli
from pipeline import configs
from serving import client
from serving import contract

import tf_serving_double  # tests/: the TF Serving test double.

MODEL_NAME = 'sound_classifier'


@pytest.fixture(scope='module')
def served(demo_run):
  """(double, loaded model) serving the run's pushed model base."""
  config, _ = demo_run
  double = tf_serving_double.ServingDouble(
      MODEL_NAME, config.serving_model_dir).start()
  yield double, double.model.saved_model
  double.stop()


@pytest.fixture(scope='module')
def wav_file(tmp_path_factory):
  """A 2 s 22.05 kHz stereo 24-bit WAV: the server must resample it."""
  t = np.arange(44100) / 22050
  tone = 0.5 * np.sin(2 * np.pi * 600 * t) * np.exp(-2 * (t % 0.5))
  path = tmp_path_factory.mktemp('wav') / 'clip.wav'
  path.write_bytes(audio.encode_wav(np.stack([tone, tone * 0.5], axis=1),
                                    22050, 'PCM_24'))
  return str(path)


def _local(model, signature, **inputs):
  return contract.prediction({k: v.numpy() for k, v in model.signatures[
      signature](**{k: tf.constant(v) for k, v in inputs.items()}).items()})


def _assert_same(got, expected):
  assert got['class_name'] == expected['class_name']
  assert got['class_index'] == expected['class_index']
  assert got['scores'].keys() == expected['scores'].keys()
  for name, score in expected['scores'].items():
    assert got['scores'][name] == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize('transport', ['rest', 'grpc'])
def test_wav_goes_to_serving_wav(served, wav_file, transport):
  double, model = served
  url = dict(zip(('rest', 'grpc'), double.urls))[transport]
  wav = open(wav_file, 'rb').read()
  got = client.classify_wav(client.connect(url, MODEL_NAME), wav)
  _assert_same(got, _local(model, 'serving_wav', wav=wav))
  assert set(got['scores']) == {'dog', 'cat'}
  assert abs(sum(got['scores'].values()) - 1) < 1e-5


@pytest.mark.parametrize('transport', ['rest', 'grpc'])
def test_waveform_goes_to_serving_default(served, transport):
  double, model = served
  url = dict(zip(('rest', 'grpc'), double.urls))[transport]
  waveform = np.random.default_rng(0).uniform(-0.3, 0.3, 24000).astype(
      np.float32)
  got = client.classify_waveform(client.connect(url, MODEL_NAME, version=(
      double.model.version)), waveform)
  _assert_same(got, _local(model, 'serving_default', audio=waveform))


@pytest.mark.parametrize('transport', ['rest', 'grpc'])
def test_server_errors_reach_the_caller(served, transport):
  double, _ = served
  url = dict(zip(('rest', 'grpc'), double.urls))[transport]
  with pytest.raises(client.ServingError, match='not a WAV file'):
    client.classify_wav(client.connect(url, MODEL_NAME), b'ID3 an mp3')
  with pytest.raises(client.ServingError, match='audio is empty'):
    client.classify_waveform(client.connect(url, MODEL_NAME), [])
  with pytest.raises(client.ServingError, match='Servable not found'):
    client.classify_wav(client.connect(url, 'no_such_model'), b'')
  with pytest.raises(client.ServingError, match='Servable not found'):
    client.classify_wav(client.connect(url, MODEL_NAME, version=1), b'')


def test_rest_error_carries_the_http_status(served):
  double, _ = served
  with pytest.raises(client.ServingError, match=r'(?s)HTTP 400: .*not a WAV'):
    client.classify_wav(client.connect(double.urls[0], MODEL_NAME), b'xx')


def test_unreachable_server_is_a_serving_error():
  with pytest.raises(client.ServingError, match='cannot reach'):
    client.classify_wav(client.connect('http://127.0.0.1:1', MODEL_NAME),
                        b'')
  with pytest.raises(ValueError, match='grpc://'):
    client.connect('ftp://host', MODEL_NAME)


@pytest.mark.parametrize('transport', ['rest', 'grpc'])
def test_cli_predict_against_a_server(served, wav_file, transport, capsys):
  double, model = served
  url = dict(zip(('rest', 'grpc'), double.urls))[transport]
  expected = _local(model, 'serving_wav', wav=open(wav_file, 'rb').read())
  assert cli.main(['predict', '--server', url, '--model-name', MODEL_NAME,
                   '--json', wav_file]) == 0
  result = json.loads(capsys.readouterr().out)
  assert result['file'] == wav_file
  _assert_same(result, expected)
  assert cli.main(['predict', '--server', url, wav_file]) == 0
  top = expected['scores'][expected['class_name']]
  assert capsys.readouterr().out == (
      f"{wav_file}: {expected['class_name']} ({top:.3f})\n")


def test_cli_predict_reports_server_errors(served, tmp_path, capsys):
  double, _ = served
  not_wav = tmp_path / 'notes.wav'
  not_wav.write_text('not audio')
  assert cli.main(['predict', '--server', double.urls[1], str(not_wav)]) == 1
  err = capsys.readouterr().err
  assert str(not_wav) in err and 'not a WAV file' in err


def test_cli_predict_with_a_local_model(demo_run, wav_file, capsys):
  config, _ = demo_run
  assert cli.main(['predict', '--model', config.serving_model_dir, '--json',
                   wav_file]) == 0
  result = json.loads(capsys.readouterr().out)
  assert result['class_name'] in ('dog', 'cat')
  assert abs(sum(result['scores'].values()) - 1) < 1e-5


def test_cli_predict_needs_exactly_one_existing_source(tmp_path, capsys):
  with pytest.raises(SystemExit) as missing:
    cli.main(['predict', '--model', str(tmp_path / 'absent'), 'a.wav'])
  assert missing.value.code == 2
  assert 'does not exist' in capsys.readouterr().err
  with pytest.raises(SystemExit):
    cli.main(['predict', '--model', str(tmp_path), '--server',
              'http://localhost:8501', 'a.wav'])
  with pytest.raises(SystemExit):
    cli.main(['predict', 'a.wav'])


def test_example_tf_serving_config_matches_the_push_layout():
  """models.config names the default model at its pushed base path."""
  config = open(os.path.join(os.path.dirname(__file__), '..', 'serving',
                             'tf_serving', 'models.config')).read()
  name = configs.default_of('model_name')
  assert f'name: "{name}"' in config
  assert f'base_path: "/models/{name}"' in config
