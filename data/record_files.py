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

import struct
from typing import BinaryIO, Dict, Sequence

import google_crc32c
import numpy as np
import tensorflow as tf

_GZIP_SUFFIX = '.gz'
# A TFRecord: uint64 length, uint32 masked CRC-32C of the length, the
# payload, uint32 masked CRC-32C of the payload (all little-endian).
_HEADER = struct.Struct('<QI')
_FOOTER_SIZE = 4
_CRC_MASK_DELTA = 0xa282ead8


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
  """The records of TFRecord files, in order, compressed or not.

  tf.data's autotuning is off, for this dataset and those built on it: the
  readers here tune nothing, and deleting an autotuned iterator sometimes
  blocked for seconds, idling the embedding step between its shards
  (docs/performance.md).
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return tf.data.TFRecordDataset(
      list(paths), compression_type=compression_type(paths)).with_options(
          options)


def _masked_crc(data: bytes) -> int:
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xffffffff


def _corrupt(path: str, position: int, what: str) -> tf.errors.DataLossError:
  return tf.errors.DataLossError(None, None,
                                 f'{path}: {what} at byte {position}')


def _open_binary(path: str) -> BinaryIO:
  """GFile for remote files; Python's file for local ones, where it takes a
  tenth of GFile's time per small read."""
  if '://' in path:
    return tf.io.gfile.GFile(path, 'rb')
  return open(path, 'rb')  # pylint: disable=consider-using-with


def _count_uncompressed(path: str) -> int:
  """Records of an uncompressed file, from their headers alone."""
  with _open_binary(path) as f:
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    count = position = 0
    while position < size:
      header = f.read(_HEADER.size)
      if len(header) < _HEADER.size:
        raise _corrupt(path, position, 'truncated record header')
      length, length_crc = _HEADER.unpack(header)
      if _masked_crc(header[:8]) != length_crc:
        raise _corrupt(path, position, 'record length fails its CRC')
      end = position + _HEADER.size + length + _FOOTER_SIZE
      if end > size:
        raise _corrupt(path, position, f'record of {length} bytes runs past '
                       f'the end of the file ({size} bytes)')
      f.seek(end)
      position = end
      count += 1
  return count


def count_records(paths: Sequence[str]) -> int:
  """Records in TFRecord files.

  The components count every file they wrote (`examples_io.check_written`);
  uncompressed files are counted from their record headers, each length
  checked against its CRC and the file's size, without reading the payloads
  (a seventh of the time of reading 20,000 patch Examples through).
  Gzipped files are read through.
  """
  gzipped = [path for path in paths if path.endswith(_GZIP_SUFFIX)]
  count = sum(_count_uncompressed(path) for path in paths
              if not path.endswith(_GZIP_SUFFIX))
  if gzipped:
    count += int(record_dataset(gzipped).reduce(
        tf.constant(0, tf.int64), lambda total, _: total + 1))
  return count


def read_columns(files: Sequence[str], spec: Dict[str, tf.io.FixedLenFeature]
                ) -> Dict[str, np.ndarray]:
  """Fixed-length features of every Example in `files`, one array each.

  Parses in batches, which is what makes 20,000 embedding patches quick.
  """
  columns = {name: [] for name in spec}
  if files:
    batches = record_dataset(files).batch(1024).map(
        lambda records: tf.io.parse_example(records, spec))
    for batch in batches:
      for name, value in batch.items():
        columns[name].append(value.numpy())
  return {name: (np.concatenate(values) if values else
                 np.zeros([0] + list(spec[name].shape),
                          spec[name].dtype.as_numpy_dtype))
          for name, values in columns.items()}


def decode(value) -> str:
  """A parsed string feature as text."""
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)
