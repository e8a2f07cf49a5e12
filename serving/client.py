"""Clients for the classifier served by TensorFlow Serving, over REST or gRPC.

WAV files go to the `serving_wav` signature as they are (base64 in REST's
JSON), so the server decodes and resamples them exactly as training audio was;
float waveforms go to `serving_default`. Both return what local_predict does:
{'class_name', 'class_index', 'scores': {class: probability}}.

REST uses TF Serving's columnar format, POST
/v1/models/<name>[/versions/<v>]:predict with {"signature_name", "inputs"}:
the outputs are scalars and vectors of different lengths, which the row
("instances") format cannot return.
"""

import base64
import json
from typing import Any, Dict, List, Optional, Sequence
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from serving import contract

DEFAULT_TIMEOUT_SECONDS = 60.0


class ServingError(RuntimeError):
  """The server could not be reached or refused the request (its message)."""


class RestClient:
  """TF Serving's REST predict API: http(s)://host:8501."""

  def __init__(self, server_url: str, model_name: str,
               version: Optional[int] = None,
               timeout: float = DEFAULT_TIMEOUT_SECONDS):
    path = f'/v1/models/{urllib.parse.quote(model_name)}'
    if version is not None:
      path += f'/versions/{int(version)}'
    self.url = f'{server_url.rstrip("/")}{path}:predict'
    self.timeout = timeout

  def predict(self, signature: str, inputs: Dict[str, Any]
             ) -> Dict[str, np.ndarray]:
    """Runs one signature; bytes inputs are sent as {"b64": ...}."""
    body = json.dumps({
        'signature_name': signature,
        'inputs': {name: ({'b64': base64.b64encode(value).decode('ascii')}
                          if isinstance(value, bytes) else
                          np.asarray(value).tolist())
                   for name, value in inputs.items()},
    }).encode('utf-8')
    request = urllib.request.Request(
        self.url, data=body, headers={'Content-Type': 'application/json'})
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        reply = json.loads(response.read())
    except urllib.error.HTTPError as e:
      raise ServingError(
          f'{self.url}: HTTP {e.code}: {_error_message(e.read())}') from e
    except (urllib.error.URLError, OSError) as e:
      raise ServingError(f'cannot reach {self.url}: '
                         f'{getattr(e, "reason", e)}') from e
    return {name: np.asarray(value) for name, value in
            reply['outputs'].items()}


def _error_message(body: bytes) -> str:
  """TF Serving's {"error": message}, else the body as text."""
  try:
    return json.loads(body)['error']
  except (ValueError, KeyError, TypeError):
    return body.decode('utf-8', 'replace')


class GrpcClient:
  """TF Serving's gRPC PredictionService: host:8500."""

  def __init__(self, target: str, model_name: str,
               version: Optional[int] = None,
               timeout: float = DEFAULT_TIMEOUT_SECONDS):
    # Imported here: TF Serving's protos load TensorFlow; REST needs neither.
    import grpc  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
    self._grpc = grpc
    self.target = target
    self.model_name = model_name
    self.version = version
    self.timeout = timeout
    # WAV files can exceed gRPC's default 4 MB message limit.
    self._channel = grpc.insecure_channel(target, options=[
        ('grpc.max_send_message_length', -1),
        ('grpc.max_receive_message_length', -1)])
    self._stub = prediction_service_pb2_grpc.PredictionServiceStub(
        self._channel)

  def predict(self, signature: str, inputs: Dict[str, Any]
             ) -> Dict[str, np.ndarray]:
    """Runs one signature; bytes inputs become scalar DT_STRING tensors."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    request.model_spec.name = self.model_name
    request.model_spec.signature_name = signature
    if self.version is not None:
      request.model_spec.version.value = int(self.version)
    for name, value in inputs.items():
      request.inputs[name].CopyFrom(tf.make_tensor_proto(
          value if isinstance(value, bytes) else
          np.asarray(value, np.float32)))
    try:
      response = self._stub.Predict(request, timeout=self.timeout)
    except self._grpc.RpcError as e:
      raise ServingError(
          f'{self.target}: {e.code().name}: {e.details()}') from e
    return {name: tf.make_ndarray(tensor)
            for name, tensor in response.outputs.items()}

  def close(self) -> None:
    self._channel.close()


def connect(server: str, model_name: str, version: Optional[int] = None,
            timeout: float = DEFAULT_TIMEOUT_SECONDS):
  """A client for http(s)://host:port (REST) or grpc://host:port (gRPC)."""
  scheme = urllib.parse.urlparse(server).scheme
  if scheme in ('http', 'https'):
    return RestClient(server, model_name, version, timeout)
  if scheme == 'grpc':
    return GrpcClient(server[len('grpc://'):].rstrip('/'), model_name,
                      version, timeout)
  raise ValueError(f'expected an http://, https:// or grpc:// server URL, got '
                   f'{server!r}')


def classify_wav(client, wav: bytes) -> Dict[str, object]:
  """Classifies WAV bytes with serving_wav (decoded on the server)."""
  return contract.prediction(
      client.predict(contract.WAV_SIGNATURE, {contract.WAV_INPUT: wav}))


def classify_waveform(client, waveform: Sequence[float]) -> Dict[str, object]:
  """Classifies a 16 kHz mono float waveform with serving_default."""
  return contract.prediction(client.predict(
      contract.SERVING_SIGNATURE,
      {contract.AUDIO_INPUT: np.asarray(waveform, np.float32)}))


def classify_files(server: str, model_name: str, paths: Sequence[str],
                   version: Optional[int] = None) -> List[Dict[str, object]]:
  """Sends each WAV file to the server; results as local_predict returns."""
  client = connect(server, model_name, version)
  results = []
  for path in paths:
    with open(path, 'rb') as f:
      wav = f.read()
    try:
      results.append({'file': path, **classify_wav(client, wav)})
    except ServingError as e:
      raise ServingError(f'{path}: {e}') from e
  return results
