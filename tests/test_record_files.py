"""Compression of TFRecord files is read from their names, as TFX reads it."""

import pytest
import tensorflow as tf

from data import record_files


def _write(path, records, compression):
  with tf.io.TFRecordWriter(str(path), tf.io.TFRecordOptions(
      compression_type=compression)) as writer:
    for record in records:
      writer.write(record)


def test_gzipped_and_plain_files_both_read(tmp_path):
  _write(tmp_path / 'a.gz', [b'1', b'2'], 'GZIP')
  _write(tmp_path / 'b.gz', [b'3'], 'GZIP')
  _write(tmp_path / 'c', [b'4', b'5'], '')
  gzipped = [str(tmp_path / 'a.gz'), str(tmp_path / 'b.gz')]
  assert record_files.compression_type(gzipped) == 'GZIP'
  assert record_files.compression_type([str(tmp_path / 'c')]) == ''
  assert [r.numpy() for r in record_files.record_dataset(gzipped)] == [
      b'1', b'2', b'3']
  assert [r.numpy() for r in record_files.record_dataset(
      [str(tmp_path / 'c')])] == [b'4', b'5']


def test_mixed_compression_is_an_error():
  with pytest.raises(ValueError, match='mix gzipped'):
    record_files.compression_type(['/x/a.gz', '/x/b'])


def test_uncompressed_name_drops_only_a_gz_suffix():
  assert record_files.uncompressed_name(
      '/out/Split-fold1/data_tfrecord-00000-of-00002.gz') == (
          'data_tfrecord-00000-of-00002')
  assert record_files.uncompressed_name('gs://b/Split-fold1/data') == 'data'
  assert record_files.uncompressed_name('/a/b.gzip') == 'b.gzip'


def test_count_records_reads_headers_of_plain_files_and_gzipped_through(
    tmp_path):
  _write(tmp_path / 'a', [b'x' * 1000, b'', b'y'], '')
  _write(tmp_path / 'b', [], '')
  _write(tmp_path / 'c.gz', [b'1', b'2'], 'GZIP')
  paths = [str(tmp_path / name) for name in ('a', 'b', 'c.gz')]
  assert record_files.count_records(paths) == 5
  assert record_files.count_records([]) == 0
  # Remote files (here TF's in-memory filesystem) are read through GFile.
  _write('ram://counted/a', [b'x' * 1000, b'', b'y'], '')
  assert record_files.count_records(['ram://counted/a']) == 3


def test_count_records_rejects_truncated_and_corrupted_files(tmp_path):
  _write(tmp_path / 'whole', [b'x' * 100, b'y' * 100], '')
  data = (tmp_path / 'whole').read_bytes()
  (tmp_path / 'truncated').write_bytes(data[:-5])
  with pytest.raises(tf.errors.DataLossError, match='runs past the end'):
    record_files.count_records([str(tmp_path / 'truncated')])
  (tmp_path / 'short_header').write_bytes(data + data[:5])
  with pytest.raises(tf.errors.DataLossError, match='truncated record header'):
    record_files.count_records([str(tmp_path / 'short_header')])
  # The second record's length byte changed: its CRC no longer matches.
  second = 8 + 4 + 100 + 4
  corrupted = bytearray(data)
  corrupted[second] ^= 0x01
  (tmp_path / 'corrupted').write_bytes(bytes(corrupted))
  with pytest.raises(tf.errors.DataLossError,
                     match=f'fails its CRC at byte {second}'):
    record_files.count_records([str(tmp_path / 'corrupted')])
