"""YAMNet over a waveform of any length in fixed-size blocks of patches.

Called on a whole waveform, YAMNet holds every patch's activations at once, so
its memory grows with the input's length. Here YAMNet runs on one block of
BLOCK_PATCHES patches after another (a graph loop that runs one iteration at
a time), and only the per-patch outputs are kept. Blocks start on patch
boundaries and overlap by the part of a patch that reaches past the next
block's start, so every patch is computed from the same samples, with the
same zero padding at the end, as YAMNet computes it on the whole waveform.
"""

from typing import Tuple

import tensorflow as tf

from yamnet import spec

# About 31 s of audio a block: large enough that YAMNet's per-call cost is
# amortised, small enough that a block's activations stay in the tens of MB.
BLOCK_PATCHES = 64
# Samples YAMNet reads for one block's patches.
BLOCK_SAMPLES = spec.PATCH_SAMPLES + (BLOCK_PATCHES - 1) * spec.PATCH_HOP_SAMPLES


def num_patches(num_samples: tf.Tensor) -> tf.Tensor:
  """Patches YAMNet gives a waveform: zero-padded to one patch, then to whole
  patch hops."""
  past_first = tf.maximum(0, num_samples - spec.PATCH_SAMPLES)
  return 1 + (past_first + spec.PATCH_HOP_SAMPLES - 1) // spec.PATCH_HOP_SAMPLES


def yamnet_in_blocks(yamnet, waveform: tf.Tensor
                    ) -> Tuple[tf.Tensor, tf.Tensor]:
  """(scores [P, 521], embeddings [P, 1024]) of a 16 kHz waveform, as
  `yamnet(waveform)` gives them, in bounded memory."""
  num_blocks = (num_patches(tf.size(waveform)) + BLOCK_PATCHES - 1
               ) // BLOCK_PATCHES
  scores = tf.TensorArray(tf.float32, size=num_blocks, infer_shape=False,
                          element_shape=[None, spec.NUM_CLASSES])
  embeddings = tf.TensorArray(tf.float32, size=num_blocks, infer_shape=False,
                              element_shape=[None, spec.EMBEDDING_SIZE])

  def run_block(block, scores, embeddings):
    start = block * BLOCK_PATCHES * spec.PATCH_HOP_SAMPLES
    block_scores, block_embeddings, _ = yamnet(
        waveform[start:start + BLOCK_SAMPLES])
    return (block + 1, scores.write(block, block_scores),
            embeddings.write(block, block_embeddings))

  _, scores, embeddings = tf.while_loop(
      lambda block, *_: block < num_blocks, run_block,
      (tf.constant(0), scores, embeddings), parallel_iterations=1)
  return scores.concat(), embeddings.concat()


def patch_times(count: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """(start, end) in seconds of the first `count` patches."""
  hop_s = spec.PATCH_HOP_SAMPLES / spec.SAMPLE_RATE
  start = tf.range(count, dtype=tf.float32) * hop_s
  # A patch covers 96 frames of 10 ms: 0.96 s.
  return start, start + spec.PATCH_FRAMES * 0.01
