"""Clips the pipeline could not use, kept as an artifact instead of dropped.

Both the ExampleGen and the embedding component route unusable clips here with
the reason, so `clips listed = clips embedded + clips quarantined` holds and the
run summary can show every clip that did not make it.
"""

import json
import posixpath
from typing import Dict, List

import apache_beam as beam
import tensorflow as tf
from tfx.types import artifact

QUARANTINE_FILE = 'quarantine.jsonl'
FIELDS = ('clip_id', 'filename', 'fold', 'category', 'span', 'reason')


class QuarantinedClips(artifact.Artifact):
  """JSON lines, one clip per line: clip_id, filename, fold, category, span
  (0 for a data root without spans), reason."""
  # Kubeflow V2 imports a custom artifact class by its type name, which must
  # be `<module>.<Class>` with one dot; components/__init__.py exports it.
  TYPE_NAME = 'components.QuarantinedClips'


def record(clip_id: str, filename: str, fold: int, category: str, span: int,
           reason: str) -> Dict[str, object]:
  return {'clip_id': clip_id, 'filename': filename, 'fold': int(fold),
          'category': category, 'span': int(span), 'reason': reason}


def quarantine_path(artifact_uri: str) -> str:
  return posixpath.join(artifact_uri, QUARANTINE_FILE)


class WriteQuarantine(beam.PTransform):
  """Writes quarantine records as one JSON-lines file (empty when none)."""

  def __init__(self, artifact_uri: str):
    super().__init__()
    self._path = quarantine_path(artifact_uri)

  def expand(self, records):
    return (records
            | 'ToJson' >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
            | 'Write' >> beam.io.WriteToText(
                self._path, shard_name_template='', num_shards=1))


def read_quarantine(artifact_uri: str) -> List[Dict[str, object]]:
  path = quarantine_path(artifact_uri)
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return [json.loads(line) for line in f if line.strip()]
