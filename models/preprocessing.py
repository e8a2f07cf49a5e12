"""Transform's module file: class names -> contiguous indices.

The label vocabulary is analysed on the training folds only (Transform's
splits_config), so evaluation folds cannot leak into it; a class absent from
the training folds maps to -1 and the Trainer refuses it.
"""

import tensorflow as tf
import tensorflow_transform as tft

from yamnet import patch_examples as patches

# Vocabulary of class names, computed by Transform on the training folds; the
# Trainer reads it back to name the model's outputs.
LABEL_VOCABULARY = 'label_vocabulary'


def preprocessing_fn(inputs):
  """Maps `label` to its vocabulary index; passes the embedding through."""
  return {
      patches.EMBEDDING: tf.cast(inputs[patches.EMBEDDING], tf.float32),
      patches.LABEL: tft.compute_and_apply_vocabulary(
          inputs[patches.LABEL], default_value=-1,
          vocab_filename=LABEL_VOCABULARY),
      patches.CLIP_ID: inputs[patches.CLIP_ID],
      patches.FOLD: inputs[patches.FOLD],
  }
