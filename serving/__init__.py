"""The serving model contract and clients for TensorFlow Serving."""
