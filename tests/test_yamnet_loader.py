"""Tests loading, checking and fingerprinting YAMNet handles."""

import http.server
import io
import os
import pathlib
import shutil
import tarfile
import threading
import urllib.parse

import numpy as np
import pytest
import tensorflow as tf

from yamnet import loader
from yamnet import spec
from yamnet import standin

_HUB_PATH = '/yamnet/1'


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory):
  return standin.build_standin_yamnet(
      str(tmp_path_factory.mktemp('standin') / 'yamnet'), seed=0)


def _outputs(model, waveform):
  return [x.numpy() for x in model(tf.constant(waveform))]


def test_loads_standin_with_yamnet_shapes(export_dir):
  model = loader.load_yamnet(export_dir)
  scores, embeddings, log_mel = model(tf.zeros([80000]))
  assert scores.shape == (10, 521)
  assert embeddings.shape == (10, 1024)
  assert log_mel.shape == (528, 64)


def test_output_lengths_follow_padding_rule():
  assert loader.yamnet_output_lengths(0) == (1, 96)
  assert loader.yamnet_output_lengths(15600) == (1, 96)
  assert loader.yamnet_output_lengths(15601) == (2, 144)
  assert loader.yamnet_output_lengths(23281) == (3, 192)
  assert loader.yamnet_output_lengths(80000) == (10, 528)


def test_missing_directory_is_named(tmp_path):
  handle = str(tmp_path / 'nowhere')
  with pytest.raises(loader.YamnetHandleError, match='nowhere.*neither'):
    loader.load_yamnet(handle)


def test_directory_without_saved_model_pb(tmp_path):
  (tmp_path / 'README.md').write_text('not a model')
  with pytest.raises(loader.YamnetHandleError) as error:
    loader.load_yamnet(str(tmp_path))
  message = str(error.value)
  assert str(tmp_path) in message
  assert 'no saved_model.pb' in message and 'README.md' in message


class _OneOutput(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(self, waveform):
    return tf.reduce_sum(waveform, keepdims=True)


class _Int32Input(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
  def __call__(self, waveform):
    return waveform


def test_other_savedmodel_is_rejected_with_what_it_returned(tmp_path):
  handle = str(tmp_path / 'one_output')
  tf.saved_model.save(_OneOutput(), handle)
  with pytest.raises(loader.YamnetHandleError) as error:
    loader.load_yamnet(handle)
  message = str(error.value)
  assert handle in message
  assert 'is not a YAMNet-like model' in message
  assert 'embeddings[2, 1024]' in message
  assert 'got (float32[1])' in message


def test_savedmodel_that_cannot_take_a_waveform_is_rejected(tmp_path):
  handle = str(tmp_path / 'int_input')
  tf.saved_model.save(_Int32Input(), handle)
  with pytest.raises(loader.YamnetHandleError, match='calling it on 16000'):
    loader.load_yamnet(handle)


def test_corrupt_savedmodel_is_a_handle_error(tmp_path):
  (tmp_path / 'saved_model.pb').write_bytes(b'garbage')
  with pytest.raises(loader.YamnetHandleError, match='Cannot load YAMNet'):
    loader.load_yamnet(str(tmp_path))


def test_fingerprint_follows_contents_not_location(export_dir, tmp_path):
  fingerprint = loader.yamnet_fingerprint(export_dir)
  assert fingerprint.startswith('sha256:') and len(fingerprint) == 7 + 64
  assert loader.yamnet_fingerprint(export_dir) == fingerprint

  copy = str(tmp_path / 'copy')
  shutil.copytree(export_dir, copy)
  assert loader.yamnet_fingerprint(copy) == fingerprint

  data = next(pathlib.Path(copy, 'variables').glob('variables.data-*'))
  weights = bytearray(data.read_bytes())
  weights[len(weights) // 2] ^= 0xFF
  data.write_bytes(bytes(weights))
  assert loader.yamnet_fingerprint(copy) != fingerprint


def test_fingerprint_changes_with_seed(export_dir, tmp_path):
  other = standin.build_standin_yamnet(str(tmp_path / 'seed1'), seed=1)
  assert loader.yamnet_fingerprint(other) != loader.yamnet_fingerprint(
      export_dir)


def test_fingerprint_of_url_and_of_non_model(tmp_path):
  assert (loader.yamnet_fingerprint(spec.DEFAULT_YAMNET_HANDLE) ==
          'url:https://tfhub.dev/google/yamnet/1')
  with pytest.raises(loader.YamnetHandleError, match='no saved_model.pb'):
    loader.yamnet_fingerprint(str(tmp_path))


class _HubHandler(http.server.BaseHTTPRequestHandler):
  """Serves a model tarball as tfhub.dev does for ?tf-hub-format=compressed."""

  def do_GET(self):  # pylint: disable=invalid-name
    self.server.requests.append(self.path)
    url = urllib.parse.urlsplit(self.path)
    query = urllib.parse.parse_qs(url.query)
    if url.path != _HUB_PATH or query != {'tf-hub-format': ['compressed']}:
      self.send_error(404)
      return
    self.send_response(200)
    self.send_header('Content-Type', 'application/x-gzip')
    self.send_header('Content-Length', str(len(self.server.tarball)))
    self.end_headers()
    self.wfile.write(self.server.tarball)

  def log_message(self, *args):
    """Keeps request logs out of the test output."""


def _tarball(model_dir):
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
    for name in sorted(os.listdir(model_dir)):
      tar.add(os.path.join(model_dir, name), arcname=name)
  return buffer.getvalue()


@pytest.fixture
def hub_server(export_dir, tmp_path, monkeypatch):
  """A local tfhub.dev look-alike; yields (base URL, requests seen)."""
  monkeypatch.setenv('TFHUB_CACHE_DIR', str(tmp_path / 'hub_cache'))
  monkeypatch.delenv('TFHUB_MODEL_LOAD_FORMAT', raising=False)
  # A proxy configured for CI must not intercept the local server.
  monkeypatch.setenv('no_proxy', '127.0.0.1')
  monkeypatch.setenv('NO_PROXY', '127.0.0.1')
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _HubHandler)
  server.tarball = _tarball(export_dir)
  server.requests = []
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f'http://127.0.0.1:{server.server_port}', server.requests
  finally:
    server.shutdown()
    server.server_close()
    thread.join()


def test_url_handle_downloads_and_caches_like_tfhub(hub_server, export_dir,
                                                    tmp_path):
  base_url, requests = hub_server
  handle = base_url + _HUB_PATH
  model = loader.load_yamnet(handle)
  assert requests == [_HUB_PATH + '?tf-hub-format=compressed']
  cached = list((tmp_path / 'hub_cache').glob('*/saved_model.pb'))
  assert len(cached) == 1

  waveform = np.random.default_rng(0).uniform(-1, 1, 40000).astype(np.float32)
  direct = tf.saved_model.load(export_dir)
  for downloaded, local in zip(_outputs(model, waveform),
                               _outputs(direct, waveform)):
    np.testing.assert_array_equal(downloaded, local)

  loader.load_yamnet(handle)
  assert len(requests) == 1, 'the second load should come from the cache'
  assert loader.yamnet_fingerprint(handle) == f'url:{handle}'


def test_unknown_url_is_a_handle_error(hub_server):
  base_url, _ = hub_server
  handle = base_url + '/no/such/model/1'
  with pytest.raises(loader.YamnetHandleError) as error:
    loader.load_yamnet(handle)
  assert handle in str(error.value) and '404' in str(error.value)
