"""The exported sound classifier: YAMNet + dense head + mean over patches.

Exported as a plain `tf.Module` with `tf.function` signatures (Keras 3 cannot
hold a TF Hub model), so it runs in TF Serving and with the source recipe's
code: `reloaded(waveform)` and `reloaded.signatures['serving_default'](...)`.

Signatures (docs/serving.md is the contract for clients):
  serving_default  audio: float32 [num_samples], 16 kHz mono in [-1, 1]
  serving_wav      wav: string scalar, the bytes of a WAV file at any common
                   rate, decoded and resampled in the graph as training audio
                   was (serving/wav_ops.py, serving/resampling.py)
  decode_wav       wav -> the 16 kHz waveform serving_wav classifies
  serving_timeline audio as serving_default -> per patch: start_s, end_s,
                   logits, probabilities, class_index, class_name, and
                   YAMNet's own yamnet_class_name and yamnet_score
  evaluation       examples: serialized embedding Examples -> per-patch
                   probabilities (TFMA, patch level)
  clip_evaluation  examples: serialized clip Examples -> per-clip
                   probabilities of the served computation (TFMA, clip level)
  clip_label       examples: serialized clip Examples -> label_index, the
                   class index of their category (-1 if not a trained class)
Both serving signatures return classifier (patch-averaged logits),
probabilities, class_index, class_name and class_names. Every signature that
takes audio runs YAMNet and the head in blocks of patches
(serving/yamnet_blocks.py), keeping only a few numbers per patch, and
serving_wav decodes and resamples each block from the WAV bytes: beyond the
request itself, memory does not grow with the input's length. Audio longer
than max_audio_seconds is refused before any work.
"""

import csv
import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2

from data import audio
from data import clip_examples
from serving import contract
from serving import resampling
from serving import wav_ops
from serving import yamnet_blocks
from yamnet import spec
from yamnet import patch_examples as patches


def _graph_function(*input_specs: tf.TensorSpec):
  """A signature's tf.function, traced without AutoGraph.

  Its loops and branches are tf.while_loop and tf.cond already; AutoGraph
  would only re-parse the source of everything it calls at every export, a
  large part of the export's time.
  """
  return tf.function(input_signature=list(input_specs), autograph=False)


class SoundClassifier(tf.Module):
  """Classifies a 16 kHz mono waveform into the trained classes."""

  def __init__(self, yamnet, head_weights: Sequence[np.ndarray],
               class_names: Sequence[str], labels_file: str,
               yamnet_class_names: Sequence[str], max_audio_seconds: float):
    super().__init__(name='sound_classifier')
    self.yamnet = yamnet
    self.max_audio_seconds = float(max_audio_seconds)
    self.max_samples = int(max_audio_seconds * audio.TARGET_SAMPLE_RATE)
    self.yamnet_class_names = tf.Variable(list(yamnet_class_names),
                                          trainable=False, dtype=tf.string)
    hidden_kernel, hidden_bias, output_kernel, output_bias = head_weights
    self.hidden_kernel = tf.Variable(hidden_kernel, trainable=False)
    self.hidden_bias = tf.Variable(hidden_bias, trainable=False)
    self.output_kernel = tf.Variable(output_kernel, trainable=False)
    self.output_bias = tf.Variable(output_bias, trainable=False)
    self.class_names = tf.Variable(list(class_names), trainable=False,
                                   dtype=tf.string)
    self.labels = tf.saved_model.Asset(labels_file)

  def head_logits(self, embeddings: tf.Tensor) -> tf.Tensor:
    """Dense(512, relu) -> Dense(n): per-patch logits."""
    hidden = tf.nn.relu(tf.matmul(embeddings, self.hidden_kernel) +
                        self.hidden_bias)
    return tf.matmul(hidden, self.output_kernel) + self.output_bias

  def _checked_length(self, num_samples: tf.Tensor) -> tf.Tensor:
    """num_samples, once it is known to be at least one and no more than
    max_audio_seconds of 16 kHz audio. Scores of empty audio would mean
    nothing (training never saw such clips); the bound is checked before any
    work, so an oversized request costs nothing."""
    checks = [
        tf.debugging.Assert(num_samples > 0, [
            'audio is empty: expected at least one sample of 16 kHz mono '
            'audio']),
        tf.debugging.Assert(num_samples <= self.max_samples, [
            tf.strings.format(
                'audio is {} s long; this model accepts at most '
                f'{self.max_audio_seconds:g} s (max_audio_seconds)',
                tf.cast(num_samples, tf.float32) / audio.TARGET_SAMPLE_RATE)]),
    ]
    with tf.control_dependencies(checks):
      return tf.identity(num_samples)

  def _checked(self, waveform: tf.Tensor) -> tf.Tensor:
    """The waveform, once its length is checked and it is known to be finite
    (non-finite samples would give meaningless scores). Neither check copies
    the waveform."""
    num_samples = self._checked_length(tf.size(waveform))
    with tf.control_dependencies([num_samples]):
      return tf.debugging.check_numerics(waveform,
                                         'audio has NaN or Inf samples')

  def _per_patch(self, num_samples: tf.Tensor, read: yamnet_blocks.Reader,
                 with_yamnet_top: bool) -> Tuple[tf.Tensor, ...]:
    """Per patch: head logits [P, n] and, if with_yamnet_top, YAMNet's top
    AudioSet class index [P] and score [P].

    The head runs on each block, so only these few numbers per patch are kept
    for the whole input, not YAMNet's 521 scores and 1,024-wide embeddings.
    """
    signature = [tf.TensorSpec([None, self.output_bias.shape[0]], tf.float32)]
    if with_yamnet_top:
      signature += [tf.TensorSpec([None], tf.int32),
                    tf.TensorSpec([None], tf.float32)]

    def keep(scores, embeddings):
      kept = (self.head_logits(embeddings),)
      if with_yamnet_top:
        kept += (tf.argmax(scores, axis=1, output_type=tf.int32),
                 tf.reduce_max(scores, axis=1))
      return kept

    return yamnet_blocks.map_patches(self.yamnet, num_samples, read, keep,
                                     signature)

  def _waveform_per_patch(self, waveform: tf.Tensor, with_yamnet_top: bool
                         ) -> Tuple[tf.Tensor, ...]:
    """_per_patch of a checked waveform tensor, read by slicing it."""
    waveform = self._checked(waveform)
    return self._per_patch(tf.size(waveform),
                           yamnet_blocks.slice_reader(waveform),
                           with_yamnet_top)

  @_graph_function(tf.TensorSpec([None], tf.float32))
  def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
    """Class scores (logits) averaged over YAMNet's 0.96 s patches.

    Clips shorter than a patch are zero-padded to one patch.
    """
    logits, = self._waveform_per_patch(waveform, False)
    return tf.reduce_mean(logits, axis=0)

  def _outputs(self, scores: tf.Tensor) -> Dict[str, tf.Tensor]:
    class_index = tf.argmax(scores, output_type=tf.int32)
    return {
        'classifier': scores,
        'probabilities': tf.nn.softmax(scores),
        'class_index': class_index,
        'class_name': tf.gather(self.class_names, class_index),
        'class_names': tf.identity(self.class_names),
    }

  @_graph_function(
      tf.TensorSpec([None], tf.float32, name=contract.AUDIO_INPUT))
  def serve_waveform(self, audio: tf.Tensor) -> Dict[str, tf.Tensor]:
    # TF Serving feeds tensors of any shape; fail clearly, not deep inside.
    return self._outputs(self(tf.ensure_shape(audio, [None])))

  @_graph_function(
      tf.TensorSpec([None], tf.float32, name=contract.AUDIO_INPUT))
  def serve_timeline(self, audio: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Per patch: its time span, the head's class probabilities and top
    class, and YAMNet's own top AudioSet class, which names silence and
    background that no trained class fits."""
    logits, yamnet_index, yamnet_score = self._waveform_per_patch(
        tf.ensure_shape(audio, [None]), True)
    start, end = yamnet_blocks.patch_times(tf.shape(logits)[0])
    class_index = tf.argmax(logits, axis=1, output_type=tf.int32)
    return {
        contract.TIMELINE_START: start,
        contract.TIMELINE_END: end,
        'logits': logits,
        'probabilities': tf.nn.softmax(logits),
        'class_index': class_index,
        'class_name': tf.gather(self.class_names, class_index),
        'class_names': tf.identity(self.class_names),
        contract.TIMELINE_YAMNET_CLASS: tf.gather(self.yamnet_class_names,
                                                  yamnet_index),
        contract.TIMELINE_YAMNET_SCORE: yamnet_score,
    }

  @_graph_function(
      tf.TensorSpec([], tf.string, name=contract.WAV_INPUT))
  def decode_wav(self, wav: tf.Tensor) -> Dict[str, tf.Tensor]:
    """WAV bytes -> the 16 kHz mono waveform, exactly as training decoded it."""
    samples, sample_rate = wav_ops.parse_wav(tf.ensure_shape(wav, []),
                                             self.max_audio_seconds)
    return {
        contract.AUDIO_INPUT: resampling.to_mono_16k(samples, sample_rate),
        'source_sample_rate': sample_rate,
        'source_channels': tf.shape(samples, out_type=tf.int64)[1],
    }

  @_graph_function(
      tf.TensorSpec([], tf.string, name=contract.WAV_INPUT))
  def serve_wav(self, wav: tf.Tensor) -> Dict[str, tf.Tensor]:
    """serving_default's answer for the waveform decode_wav gives, decoded
    block by block from the bytes: the whole file's samples are never held
    (a WAV's float32 16 kHz waveform is twice its 16-bit bytes or more)."""
    data = wav_ops.read_header(tf.ensure_shape(wav, []),
                               self.max_audio_seconds)
    num_samples, read = wav_ops.mono_16k_reader(data)
    logits, = self._per_patch(self._checked_length(num_samples), read, False)
    return self._outputs(tf.reduce_mean(logits, axis=0))

  @_graph_function(
      tf.TensorSpec([None], tf.string, name='examples'))
  def evaluate_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Per-patch probabilities from serialized transformed Examples (TFMA)."""
    parsed = tf.io.parse_example(examples, {
        patches.EMBEDDING: patches.TRANSFORMED_FEATURE_SPEC[patches.EMBEDDING]})
    return {'probabilities': tf.nn.softmax(
        self.head_logits(parsed[patches.EMBEDDING]))}

  @_graph_function(
      tf.TensorSpec([None], tf.string, name='examples'))
  def evaluate_clip_examples(self, examples: tf.Tensor
                            ) -> Dict[str, tf.Tensor]:
    """Per-clip probabilities from serialized clip Examples (TFMA).

    Each clip goes through __call__, the computation TF Serving runs, so the
    gate judges what is served.
    """
    audio = tf.io.parse_example(
        examples, clip_examples.parse_spec([clip_examples.AUDIO])
    )[clip_examples.AUDIO]
    scores = tf.map_fn(
        self.__call__, audio,
        fn_output_signature=tf.TensorSpec([None], tf.float32))
    return {'probabilities': tf.nn.softmax(scores)}

  @_graph_function(
      tf.TensorSpec([None], tf.string, name='examples'))
  def clip_label_indices(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The class index of each clip Example's category; -1 if untrained."""
    category = tf.io.parse_example(
        examples, clip_examples.parse_spec([clip_examples.CATEGORY])
    )[clip_examples.CATEGORY]
    matches = tf.equal(category[:, tf.newaxis],
                       self.class_names[tf.newaxis, :])
    index = tf.argmax(tf.cast(matches, tf.int64), axis=1)
    return {contract.CLIP_LABEL: tf.where(
        tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))}

  @_graph_function()
  def labels_path(self) -> tf.Tensor:
    """Path of the class-name file (one name per line, in index order)."""
    return self.labels.asset_path


def _tensor_facts(info: meta_graph_pb2.TensorInfo) -> Dict[str, Any]:
  shape = info.tensor_shape
  return {'dtype': tf.as_dtype(info.dtype).name,
          'shape': None if shape.unknown_rank else
                   [d.size if d.size >= 0 else None for d in shape.dim]}


def describe_signatures(export_dir: str) -> Dict[str, Any]:
  """Inputs and outputs (dtype, shape; None = any size) of each signature,
  as the saved_model.pb that TF Serving reads declares them (reading them
  back from the tf.functions would trace every signature once more)."""
  saved = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(
      export_dir, tf.saved_model.SAVED_MODEL_FILENAME_PB), 'rb') as f:
    saved.ParseFromString(f.read())
  meta_graph, = saved.meta_graphs
  return {
      name: {'inputs': {key: _tensor_facts(info) for key, info in
                        sorted(signature.inputs.items())},
             'outputs': {key: _tensor_facts(info) for key, info in
                         sorted(signature.outputs.items())}}
      for name, signature in sorted(meta_graph.signature_def.items())
      # TF's own entry (the variables' initializer), not a signature.
      if not name.startswith('__')}


def model_card(export_dir: str, class_names: Sequence[str],
               yamnet_handle: Optional[str],
               max_audio_seconds: float) -> Dict[str, Any]:
  """What a client or an operator needs to know to call the model."""
  return {
      'model': 'YAMNet embeddings + dense head, logits averaged over patches',
      'yamnet_handle': yamnet_handle,
      'class_names': list(class_names),
      'sample_rate': audio.TARGET_SAMPLE_RATE,
      'patches': '0.96 s YAMNet patches every '
                 f'{spec.PATCH_HOP_SAMPLES / spec.SAMPLE_RATE} s; clips '
                 f'shorter than {spec.PATCH_SAMPLES} samples are zero-padded '
                 'to one patch',
      'wav_input': {
          'encodings': list(wav_ops.SUPPORTED_ENCODINGS),
          'channels': 'any; averaged to mono',
          'sample_rates': 'any whose ratio to 16000 Hz reduces to up/down '
                          f'with both <= {resampling.MAX_RESAMPLING_FACTOR}',
          'resampling': 'scipy.signal.resample_poly (Kaiser window, beta '
                        f'{resampling.KAISER_BETA}), as for training audio',
      },
      'max_audio_seconds': max_audio_seconds,
      'errors': 'InvalidArgument (HTTP 400) for empty audio, NaN/Inf samples, '
                'audio longer than max_audio_seconds and WAV bytes that '
                'cannot be decoded, naming the problem',
      'signatures': describe_signatures(export_dir),
      'warmup_requests': contract.WARMUP_FILE,
      'tensorflow_version': tf.__version__,
  }


def write_warmup_requests(path: str) -> None:
  """One PredictRequest per serving signature, as TF Serving replays them."""
  # Imported here: only the export needs TF Serving's protos.
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top

  stereo_44k = np.stack([contract.probe_tone(1.0, 44100)] * 2, axis=1)
  requests = {
      contract.SERVING_SIGNATURE: {
          contract.AUDIO_INPUT: np.zeros(audio.TARGET_SAMPLE_RATE, np.float32)},
      contract.WAV_SIGNATURE: {
          contract.WAV_INPUT: audio.encode_wav(stereo_44k, 44100)},
  }
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for signature, inputs in requests.items():
      request = predict_pb2.PredictRequest()
      request.model_spec.signature_name = signature
      for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())


def yamnet_class_names(yamnet) -> List[str]:
  """YAMNet's 521 AudioSet class names, from its class map asset."""
  path = yamnet.class_map_path().numpy().decode('utf-8')
  with tf.io.gfile.GFile(path) as f:
    return [row['display_name'] for row in csv.DictReader(f)]


def read_head(export_dir: str) -> Tuple[List[np.ndarray], List[str]]:
  """(head weights as export_classifier took them, class names) of an
  exported classifier, read from its variables without loading its graphs."""
  reader = tf.train.load_checkpoint(
      os.path.join(export_dir, 'variables', 'variables'))

  def value(attribute: str):
    return reader.get_tensor(f'{attribute}/.ATTRIBUTES/VARIABLE_VALUE')

  weights = [value(name) for name in ('hidden_kernel', 'hidden_bias',
                                      'output_kernel', 'output_bias')]
  return weights, [name.decode('utf-8') for name in value('class_names')]


def export_classifier(
    export_dir: str, yamnet, head_weights: Sequence[np.ndarray],
    class_names: Sequence[str], yamnet_handle: Optional[str] = None,
    max_audio_seconds: float = contract.DEFAULT_MAX_AUDIO_SECONDS) -> str:
  """Writes the SavedModel, its model card and TF Serving warm-up requests."""
  with tempfile.TemporaryDirectory() as scratch:
    labels_file = os.path.join(scratch, contract.LABELS_ASSET)
    with open(labels_file, 'w', encoding='utf-8') as f:
      f.write(''.join(f'{name}\n' for name in class_names))
    module = SoundClassifier(yamnet, head_weights, class_names, labels_file,
                             yamnet_class_names(yamnet), max_audio_seconds)
    signatures = {
        contract.SERVING_SIGNATURE: module.serve_waveform,
        contract.WAV_SIGNATURE: module.serve_wav,
        contract.TIMELINE_SIGNATURE: module.serve_timeline,
        contract.DECODE_SIGNATURE: module.decode_wav,
        contract.EVALUATION_SIGNATURE: module.evaluate_examples,
        contract.CLIP_EVALUATION_SIGNATURE: module.evaluate_clip_examples,
        contract.CLIP_LABEL_SIGNATURE: module.clip_label_indices,
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
  write_warmup_requests(os.path.join(export_dir, contract.WARMUP_FILE))
  card_path = os.path.join(export_dir, contract.MODEL_CARD)
  with tf.io.gfile.GFile(card_path, 'w') as f:
    json.dump(model_card(export_dir, class_names, yamnet_handle,
                         max_audio_seconds), f, indent=2)
  return export_dir
