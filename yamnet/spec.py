"""What YAMNet is, for everything that feeds or reads it: its default handle,
its input and the shapes of its outputs.

Kept free of TensorFlow, so the command line and the pipeline's
configuration can name YAMNet's defaults without loading it.
"""

from data import audio

DEFAULT_YAMNET_HANDLE = 'https://tfhub.dev/google/yamnet/1'

# 16 kHz mono in, one output row per 0.96 s patch of 96 log-mel frames
# (10 ms hop), patches every 0.48 s.
SAMPLE_RATE = audio.TARGET_SAMPLE_RATE
NUM_CLASSES = 521
EMBEDDING_SIZE = 1024
NUM_MEL_BINS = 64
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
# The shortest input that fills one patch: 95 hops of 160 plus a 400 window.
PATCH_SAMPLES = 15600
PATCH_HOP_SAMPLES = 7680
