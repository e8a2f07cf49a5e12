"""YAMNet over a waveform of any length in fixed-size blocks of patches.

Called on a whole waveform, YAMNet holds every patch's activations at once, so
its memory grows with the input's length. Here YAMNet runs on one block of
BLOCK_PATCHES patches after another (a graph loop that runs one iteration at
a time). Blocks start on patch boundaries and overlap by the part of a patch
that reaches past the next block's start, so every patch is computed from the
same samples, with the same zero padding at the end, as YAMNet computes it on
the whole waveform.

Only a block's samples are ever read at once: the waveform is given as a
function that reads a range of it, so a caller can decode it from WAV bytes
block by block, and a waveform tensor is sliced (which shares its buffer)
rather than padded or copied. Only what the caller keeps per patch outlives a
block, so a caller that needs a few numbers per patch (the head's logits, not
YAMNet's 1,024-wide embeddings) holds only those for the whole input.
"""

from typing import Callable, Sequence, Tuple

import tensorflow as tf

from yamnet import spec

# About 31 s of audio a block: large enough that YAMNet's per-call cost is
# amortised, small enough that a block's activations stay in the tens of MB.
BLOCK_PATCHES = 64
# Samples YAMNet reads for one block's patches.
BLOCK_SAMPLES = spec.PATCH_SAMPLES + (BLOCK_PATCHES - 1) * spec.PATCH_HOP_SAMPLES

# read(start, size) -> float32 samples [start, start + size) of a 16 kHz
# waveform, fewer where it ends; start and size are int64 scalars.
Reader = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
# per_patch(scores [p, 521], embeddings [p, 1024]) -> tensors [p, ...].
PerPatch = Callable[[tf.Tensor, tf.Tensor], Sequence[tf.Tensor]]


def num_patches(num_samples: tf.Tensor) -> tf.Tensor:
  """Patches YAMNet gives a waveform: zero-padded to one patch, then to whole
  patch hops."""
  past_first = tf.maximum(num_samples - spec.PATCH_SAMPLES, 0)
  return 1 + (past_first + spec.PATCH_HOP_SAMPLES - 1) // spec.PATCH_HOP_SAMPLES


def slice_reader(waveform: tf.Tensor) -> Reader:
  """Reads a waveform tensor by slicing: a slice from a block start shares the
  waveform's buffer, so no block copies the input."""
  return lambda start, size: waveform[start:start + size]


def map_patches(yamnet, num_samples: tf.Tensor, read: Reader,
                per_patch: PerPatch,
                output_signature: Sequence[tf.TensorSpec]
               ) -> Tuple[tf.Tensor, ...]:
  """per_patch's outputs for every patch of a waveform, one block at a time.

  Args:
    yamnet: The YAMNet model: yamnet(waveform) -> (scores, embeddings, _).
    num_samples: Length of the 16 kHz waveform (integer scalar).
    read: Reads a range of the waveform; called once per block.
    per_patch: What to keep of each block's YAMNet outputs.
    output_signature: dtype and shape ([None, ...]) of per_patch's outputs.

  Returns:
    per_patch's outputs over all the waveform's patches, in order.
  """
  num_samples = tf.cast(num_samples, tf.int64)
  num_blocks = tf.cast((num_patches(num_samples) + BLOCK_PATCHES - 1)
                       // BLOCK_PATCHES, tf.int32)
  kept = tuple(tf.TensorArray(s.dtype, size=num_blocks, infer_shape=False,
                              element_shape=s.shape)
               for s in output_signature)

  def run_block(block, *kept):
    start = tf.cast(block, tf.int64) * (BLOCK_PATCHES *
                                         spec.PATCH_HOP_SAMPLES)
    scores, embeddings, _ = yamnet(
        read(start, tf.constant(BLOCK_SAMPLES, tf.int64)))
    outputs = per_patch(scores, embeddings)
    return (block + 1,) + tuple(array.write(block, output)
                                for array, output in zip(kept, outputs))

  kept = tf.while_loop(lambda block, *_: block < num_blocks, run_block,
                       (tf.constant(0),) + kept, parallel_iterations=1)[1:]
  return tuple(array.concat() for array in kept)


def patch_times(count: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """(start, end) in seconds of the first `count` patches."""
  hop_s = spec.PATCH_HOP_SAMPLES / spec.SAMPLE_RATE
  start = tf.range(count, dtype=tf.float32) * hop_s
  # A patch covers 96 frames of 10 ms: 0.96 s.
  return start, start + spec.PATCH_FRAMES * 0.01
