"""Custom TFX components of the YAMNet transfer-learning pipeline."""
