"""No step of a served signature allocates in proportion to its input.

Issue 19: memory stays bounded for long inputs in every signature. Each
signature runs, traced, in a TF1 session on the exported graph (as TF Serving
runs it) at two lengths, 2 and 6 blocks of patches plus the same remainder;
the allocator's per-op figures show which op allocated how much. An op that
allocates per block allocates the same at both lengths (the last, partial
block is the same too); an op that allocated for the whole input (a decoded
WAV, a padded or concatenated waveform, every patch's embeddings) would grow
about 3x.
The allocator's figures do not count string bytes (tf.strings.substr), but a
whole-file substring is only made to be decoded whole, which they count.
"""

from typing import Dict

import numpy as np
import pytest
import tensorflow as tf

from data import audio
from serving import classifier_module
from serving import contract
from serving import yamnet_blocks
from yamnet import loader
from yamnet import spec

# Samples between block starts; a multiple of 160, so 44.1 kHz files of
# these lengths resample to them exactly.
_BLOCK_HOP = yamnet_blocks.BLOCK_PATCHES * spec.PATCH_HOP_SAMPLES
_REMAINDER = 160 * 1562  # about half a block
SHORT_SAMPLES = 2 * _BLOCK_HOP + _REMAINDER
LONG_SAMPLES = 6 * _BLOCK_HOP + _REMAINDER
# Allocations below this are per-patch outputs of a few numbers (logits,
# times, class names): 1 MB is about 2,000 patches' embeddings.
SMALL_BYTES = 2**20


@pytest.fixture(scope='module')
def session(standin_yamnet, tmp_path_factory):
  """(session, signature defs) of a classifier over the stand-in YAMNet."""
  path = str(tmp_path_factory.mktemp('memory') / 'model')
  rng = np.random.default_rng(0)
  head = [rng.normal(0, 0.05, (1024, 512)).astype(np.float32),
          np.zeros(512, np.float32),
          rng.normal(0, 0.05, (512, 2)).astype(np.float32),
          np.zeros(2, np.float32)]
  classifier_module.export_classifier(
      path, loader.load_yamnet(standin_yamnet), head, ['a', 'b'])
  graph = tf.Graph()
  with graph.as_default():
    sess = tf.compat.v1.Session(graph=graph)
    meta = tf.compat.v1.saved_model.loader.load(sess, ['serve'], path)
  yield sess, meta.signature_def
  sess.close()


def allocations(sess, signature_def, feed) -> Dict[str, int]:
  """Most bytes each op allocated in one traced run of the signature."""
  (input_info,) = signature_def.inputs.values()
  options = tf.compat.v1.RunOptions(
      trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
  metadata = tf.compat.v1.RunMetadata()
  sess.run({k: v.name for k, v in signature_def.outputs.items()},
           {input_info.name: feed}, options=options, run_metadata=metadata)
  allocated: Dict[str, int] = {}
  for device in metadata.step_stats.dev_stats:
    for node in device.node_stats:
      used = sum(memory.total_bytes for memory in node.memory)
      allocated[node.node_name] = max(allocated.get(node.node_name, 0), used)
  return allocated


def _input(signature: str, num_samples: int):
  """16 kHz noise, or 44.1 kHz stereo 16-bit WAV bytes of the same length at
  16 kHz (resampled and averaged block by block)."""
  rng = np.random.default_rng(num_samples)
  if signature == contract.WAV_SIGNATURE:
    frames = num_samples * 441 // 160
    return audio.encode_wav(
        rng.uniform(-0.5, 0.5, (frames, 2)).astype(np.float32), 44100)
  return rng.uniform(-0.5, 0.5, num_samples).astype(np.float32)


def growing_allocations(sess, signature_def, signature: str) -> Dict[str, int]:
  """Ops whose allocation at LONG_SAMPLES is large and > 1.5x the one at
  SHORT_SAMPLES: {op: bytes at LONG_SAMPLES}."""
  short = allocations(sess, signature_def, _input(signature, SHORT_SAMPLES))
  long = allocations(sess, signature_def, _input(signature, LONG_SAMPLES))
  return {op: size for op, size in long.items()
          if size >= SMALL_BYTES and size > 1.5 * short.get(op, 0)}


@pytest.mark.parametrize('signature', [contract.SERVING_SIGNATURE,
                                       contract.TIMELINE_SIGNATURE,
                                       contract.WAV_SIGNATURE])
def test_no_op_allocates_in_proportion_to_the_input(session, signature):
  sess, signature_defs = session
  assert growing_allocations(sess, signature_defs[signature], signature) == {}
