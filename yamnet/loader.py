"""Loads YAMNet from a TF Hub URL or a SavedModel directory, and checks it.

The pipeline takes the model as a user-supplied handle, so a wrong path or an
unrelated SavedModel must fail when it is loaded, with a message naming the
handle, rather than as a shape error deep inside a Beam job.
"""

import hashlib
import math
import os
from typing import Any, Iterator, Sequence, Tuple

import tensorflow as tf
import tensorflow_hub as hub

from yamnet import spec

_SAVED_MODEL_PB = 'saved_model.pb'
_VARIABLES_DIR = 'variables'
# Long enough to need a second patch, so the padding rule is checked too.
_PROBE_SAMPLES = 16000


class YamnetHandleError(ValueError):
  """The handle cannot be loaded, or what it names does not behave as YAMNet."""


def yamnet_output_lengths(num_samples: int) -> Tuple[int, int]:
  """(patches, log-mel frames) YAMNet returns for a clip of num_samples.

  Clips are zero-padded to at least one patch and then to whole patch hops, so
  every sample lands in some patch.

  Args:
    num_samples: Length of the 16 kHz waveform.
  """
  patches = 1 + math.ceil(max(0, num_samples - spec.PATCH_SAMPLES) /
                          spec.PATCH_HOP_SAMPLES)
  return patches, spec.PATCH_FRAMES + spec.PATCH_HOP_FRAMES * (patches - 1)


def _is_url(handle: str) -> bool:
  return handle.startswith(('http://', 'https://'))


def _check_saved_model_dir(handle: str) -> None:
  """Fails with the directory's contents when it is not a SavedModel."""
  if not tf.io.gfile.isdir(handle):
    raise YamnetHandleError(
        f'YAMNet handle {handle!r} is neither an http(s) URL nor an existing '
        'directory.')
  if not tf.io.gfile.exists(os.path.join(handle, _SAVED_MODEL_PB)):
    entries = sorted(tf.io.gfile.listdir(handle))
    raise YamnetHandleError(
        f'YAMNet handle {handle!r} is not a SavedModel directory: it has no '
        f'{_SAVED_MODEL_PB} (it holds {entries[:10] or "nothing"}).')


def _describe(outputs: Any) -> str:
  items = outputs if isinstance(outputs, (tuple, list)) else [outputs]
  return '(' + ', '.join(
      f'{x.dtype.name}{x.shape.as_list()}' if isinstance(x, tf.Tensor) else
      type(x).__name__ for x in items) + ')'


def _matches(outputs: Any, shapes: Sequence[Tuple[int, int]]) -> bool:
  return (isinstance(outputs, (tuple, list)) and
          len(outputs) == len(shapes) and
          all(isinstance(x, tf.Tensor) and x.dtype == tf.float32 and
              x.shape.as_list() == list(shape)
              for x, shape in zip(outputs, shapes)))


def check_yamnet_signature(model: Any, handle: str = 'model') -> None:
  """Calls the model once so that a wrong model fails before any real work.

  Args:
    model: A loaded SavedModel object.
    handle: Where the model came from, for the error message.

  Raises:
    YamnetHandleError: The call fails or returns other than YAMNet's
      (scores, embeddings, log_mel) float32 tensors, framed as YAMNet frames.
  """
  patches, frames = yamnet_output_lengths(_PROBE_SAMPLES)
  shapes = ((patches, spec.NUM_CLASSES), (patches, spec.EMBEDDING_SIZE),
            (frames, spec.NUM_MEL_BINS))
  try:
    outputs = model(tf.zeros([_PROBE_SAMPLES], tf.float32))
  except Exception as e:  # pylint: disable=broad-except
    raise YamnetHandleError(
        f'YAMNet handle {handle!r} is not a YAMNet-like model: calling it on '
        f'{_PROBE_SAMPLES} float32 samples failed with '
        f'{type(e).__name__}: {e}') from e
  if not _matches(outputs, shapes):
    raise YamnetHandleError(
        f'YAMNet handle {handle!r} is not a YAMNet-like model: for '
        f'{_PROBE_SAMPLES} samples expected float32 (scores{list(shapes[0])}, '
        f'embeddings{list(shapes[1])}, log_mel{list(shapes[2])}), got '
        f'{_describe(outputs)}.')


def load_yamnet(handle: str) -> Any:
  """Loads YAMNet from a TF Hub URL or a SavedModel directory and checks it.

  Args:
    handle: An http(s) TF Hub handle (downloaded into TFHUB_CACHE_DIR), or a
      SavedModel directory on any tf.io.gfile filesystem (local, gs://).

  Returns:
    The loaded model; `model(waveform)` gives (scores, embeddings, log_mel).

  Raises:
    YamnetHandleError: The handle cannot be loaded or is not YAMNet-like.
  """
  if not _is_url(handle):
    _check_saved_model_dir(handle)
  try:
    model = hub.load(handle) if _is_url(handle) else tf.saved_model.load(
        handle)
  except Exception as e:  # pylint: disable=broad-except
    raise YamnetHandleError(
        f'Cannot load YAMNet from {handle!r}: {type(e).__name__}: {e}') from e
  check_yamnet_signature(model, handle)
  return model


def _sha256_of_file(path: str) -> str:
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _weight_files(model_dir: str) -> Iterator[str]:
  """Paths, relative to model_dir, of the files that define the model."""
  yield _SAVED_MODEL_PB
  variables_dir = os.path.join(model_dir, _VARIABLES_DIR)
  if tf.io.gfile.isdir(variables_dir):
    for dirname, _, filenames in tf.io.gfile.walk(variables_dir):
      rel_dir = dirname[len(model_dir):].strip('/')
      for filename in filenames:
        yield f'{rel_dir}/{filename}'


def yamnet_fingerprint(handle: str) -> str:
  """Identifies the model's contents, so caches of its outputs can go stale.

  TF Hub handles name immutable model versions, so a URL is its own identity.
  A directory is identified by its graph and variables: the same files give
  the same fingerprint wherever the directory lives; any change in them gives
  a new one.

  Args:
    handle: As for load_yamnet.

  Returns:
    'url:<handle>' for a URL, else 'sha256:<hex>'.

  Raises:
    YamnetHandleError: A directory handle is not a SavedModel.
  """
  if _is_url(handle):
    return f'url:{handle}'
  _check_saved_model_dir(handle)
  # A manifest of (path, content hash) lines keeps file boundaries unambiguous.
  manifest = ''.join(
      f'{rel}\0{_sha256_of_file(os.path.join(handle, rel))}\n'
      for rel in sorted(_weight_files(handle)))
  return 'sha256:' + hashlib.sha256(manifest.encode('utf-8')).hexdigest()
