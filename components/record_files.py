"""How the pipeline's TFRecord files are compressed: by name, as TFX reads them.

TFX's readers (tfx_bsl, Beam's ReadFromTFRecord) take files ending in `.gz` as
GZIP and others as uncompressed, whatever the artifact's `file_format` says
(TFX 1.16 names every TFRecord layout `tfrecords_gzip`). The pipeline writes
its clip and patch Examples uncompressed: gzip costs more CPU than everything
else around YAMNet, and saves little of what it costs: on esc50-mini 15% of
the clip Examples (float audio), and 84% of the patch Examples, which are
small anyway (YAMNet's embeddings are mostly zeros; all of ESC-50 gives about
85 MB of them). Figures in docs/performance.md. Readers here follow the same
rule, so older gzipped artifacts still read.
"""

from typing import Sequence

import tensorflow as tf

_GZIP_SUFFIX = '.gz'


def compression_type(paths: Sequence[str]) -> str:
  """'GZIP' if every file ends in .gz, '' if none does.

  Raises:
    ValueError: Some files are gzipped and some are not.
  """
  gzipped = {path.endswith(_GZIP_SUFFIX) for path in paths}
  if len(gzipped) > 1:
    raise ValueError('TFRecord files mix gzipped (.gz) and uncompressed ones: '
                     f'{sorted(paths)[:5]}')
  return 'GZIP' if gzipped == {True} else ''


def uncompressed_name(path: str) -> str:
  """The file name without a .gz suffix."""
  name = path.rsplit('/', 1)[-1]
  return name[:-len(_GZIP_SUFFIX)] if name.endswith(_GZIP_SUFFIX) else name


def record_dataset(paths: Sequence[str]) -> tf.data.Dataset:
  """The records of TFRecord files, in order, compressed or not."""
  return tf.data.TFRecordDataset(list(paths),
                                 compression_type=compression_type(paths))
