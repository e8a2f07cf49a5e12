"""Custom TFX components of the YAMNet transfer-learning pipeline."""

from components import quarantine

# Kubeflow V2 containers import the artifact class from its TYPE_NAME.
QuarantinedClips = quarantine.QuarantinedClips
