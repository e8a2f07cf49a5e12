"""Transform's module file: class names -> contiguous indices.

The label vocabulary is analysed on the training folds only (Transform's
splits_config), so evaluation folds cannot leak into it; a class absent from
the training folds maps to -1 and the Trainer refuses it.
"""

import tensorflow as tf
import tensorflow_transform as tft

from models import features


def preprocessing_fn(inputs):
  """Maps `label` to its vocabulary index; passes the embedding through."""
  return {
      features.EMBEDDING: tf.cast(inputs[features.EMBEDDING], tf.float32),
      features.LABEL: tft.compute_and_apply_vocabulary(
          inputs[features.LABEL], default_value=-1,
          vocab_filename=features.LABEL_VOCABULARY),
      features.CLIP_ID: inputs[features.CLIP_ID],
      features.FOLD: inputs[features.FOLD],
  }
