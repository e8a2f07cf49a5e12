"""TEST DOUBLE of TensorFlow Serving's predict APIs, for the client's tests.

Not TF Serving: the real server is tensorflow/serving (see docs/serving.md).
No TF Serving binary or Docker engine is available to the tests, so this
serves a real pushed SavedModel on 127.0.0.1 with the request and response
formats TF Serving documents, and only those the clients use:

- REST: POST /v1/models/<name>[/versions/<v>]:predict with the columnar
  format {"signature_name", "inputs"} -> {"outputs"}; {"b64": ...} for binary
  strings in, strings out as JSON strings (base64 only for names ending in
  "_bytes"); errors as {"error": message} with HTTP 400 (bad input) or 404
  (unknown model or version).
- gRPC: tensorflow.serving.PredictionService/Predict with TensorProtos;
  errors as INVALID_ARGUMENT or NOT_FOUND.

It loads the newest integer version under the model base path, as TF Serving's
default version policy does, and runs signatures on the loaded SavedModel.
"""

import base64
from concurrent import futures
import http.server
import json
import os
import re
import threading
from typing import Any, Dict, Optional, Tuple

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

_PREDICT_PATH = re.compile(
    r'^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:predict$')


class _RequestError(Exception):

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


class _Model:
  """The newest version under base_path, with TF Serving's lookup errors."""

  def __init__(self, name: str, base_path: str):
    self.name = name
    versions = [int(v) for v in os.listdir(base_path) if v.isdigit()]
    self.version = max(versions)
    self.saved_model = tf.saved_model.load(
        os.path.join(base_path, str(self.version)), tags=['serve'])

  def run(self, name: str, version: Optional[int], signature: str,
          inputs: Dict[str, Any]) -> Dict[str, np.ndarray]:
    if name != self.name or version not in (None, self.version):
      latest = f'Latest({name})' if version is None else f'{name}:{version}'
      raise _RequestError(404, f'Servable not found for request: {latest}')
    signature = signature or 'serving_default'
    if signature not in self.saved_model.signatures:
      raise _RequestError(400, f'Serving signature name: "{signature}" not '
                          'found in signature def')
    function = self.saved_model.signatures[signature]
    expected = function.structured_input_signature[1]
    if set(inputs) != set(expected):
      raise _RequestError(400, f'input names {sorted(inputs)} do not match '
                          f'the signature inputs {sorted(expected)}')
    try:
      tensors = {key: tf.constant(value, expected[key].dtype)
                 for key, value in inputs.items()}
      return {key: np.asarray(value.numpy(), object if value.dtype ==
                              tf.string else None)
              for key, value in function(**tensors).items()}
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as e:
      raise _RequestError(400, str(e)) from e


def _from_json(value: Any) -> Any:
  """JSON tensor -> nested lists, with {"b64": ...} decoded to bytes."""
  if isinstance(value, dict):
    if set(value) != {'b64'}:
      raise _RequestError(400, f'unexpected JSON object {list(value)}')
    return base64.b64decode(value['b64'])
  if isinstance(value, list):
    return [_from_json(item) for item in value]
  return value


def _to_json(name: str, value: np.ndarray) -> Any:
  if value.dtype == object:
    encode = ((lambda b: {'b64': base64.b64encode(b).decode('ascii')})
              if name.endswith('_bytes') else (lambda b: b.decode('utf-8')))
    return np.vectorize(encode, otypes=[object])(value).tolist()
  return value.tolist()


class _RestHandler(http.server.BaseHTTPRequestHandler):
  """POST :predict in the columnar format."""

  model: _Model

  def do_POST(self):  # pylint: disable=invalid-name
    try:
      match = _PREDICT_PATH.match(self.path)
      if not match:
        raise _RequestError(404, f'Malformed request: POST {self.path}')
      body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
      if 'inputs' not in body:
        raise _RequestError(400, 'the test double serves only the columnar '
                            'format ("inputs")')
      inputs = body['inputs']
      if not isinstance(inputs, dict):
        raise _RequestError(400, 'inputs must name each input tensor')
      version = match['version']
      outputs = self.model.run(
          match['name'], int(version) if version else None,
          body.get('signature_name', ''),
          {key: _from_json(value) for key, value in inputs.items()})
      self._reply(200, {'outputs': {key: _to_json(key, value)
                                    for key, value in outputs.items()}})
    except _RequestError as e:
      self._reply(e.status, {'error': str(e)})

  def _reply(self, status: int, body: Dict[str, Any]) -> None:
    data = json.dumps(body).encode('utf-8')
    self.send_response(status)
    self.send_header('Content-Type', 'application/json')
    self.send_header('Content-Length', str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):  # Quiet: pytest shows failures anyway.
    pass


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
  """PredictionService.Predict."""

  def __init__(self, model: _Model):
    self.model = model

  def Predict(self, request, context):  # pylint: disable=invalid-name
    spec = request.model_spec
    try:
      outputs = self.model.run(
          spec.name, spec.version.value if spec.HasField('version') else None,
          spec.signature_name,
          {key: tf.make_ndarray(value) for key, value in
           request.inputs.items()})
    except _RequestError as e:
      context.abort(grpc.StatusCode.NOT_FOUND if e.status == 404 else
                    grpc.StatusCode.INVALID_ARGUMENT, str(e))
    response = predict_pb2.PredictResponse()
    response.model_spec.name = self.model.name
    response.model_spec.version.value = self.model.version
    response.model_spec.signature_name = (spec.signature_name or
                                          'serving_default')
    for key, value in outputs.items():
      response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    return response


class ServingDouble:
  """Serves one model over REST and gRPC on 127.0.0.1 until stop()."""

  def __init__(self, model_name: str, base_path: str):
    self.model = _Model(model_name, base_path)
    handler = type('Handler', (_RestHandler,), {'model': self.model})
    self._http = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    self._grpc = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[('grpc.max_receive_message_length', -1)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(self.model), self._grpc)
    self.grpc_port = self._grpc.add_insecure_port('127.0.0.1:0')
    self.rest_port = self._http.server_address[1]

  @property
  def urls(self) -> Tuple[str, str]:
    """(REST URL, gRPC URL) as the CLI's --server takes them."""
    return (f'http://127.0.0.1:{self.rest_port}',
            f'grpc://127.0.0.1:{self.grpc_port}')

  def start(self) -> 'ServingDouble':
    threading.Thread(target=self._http.serve_forever, daemon=True).start()
    self._grpc.start()
    return self

  def stop(self) -> None:
    self._http.shutdown()
    self._http.server_close()
    self._grpc.stop(grace=None)
