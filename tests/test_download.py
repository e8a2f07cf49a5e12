"""Tests for data/esc50_download.py against a local HTTP server."""

import hashlib
import http.server
import io
import os
import re
import stat
import threading
import zipfile

import numpy as np
import pytest

from data import audio
from data import esc50_download

_CSV = ('filename,fold,target,category,esc10,src_file,take\n'
        '1-100000-A-0.wav,1,0,dog,True,100000,A\n'
        '1-100001-A-5.wav,1,5,cat,False,100001,A\n'
        '2-100002-A-0.wav,2,0,dog,True,100002,A\n')


def _wav(seed: int) -> bytes:
  noise = np.random.default_rng(seed).uniform(-0.5, 0.5, 1600)
  return audio.encode_wav(noise.astype(np.float32), 16000)


def _esc50_zip(extra_entries: tuple[zipfile.ZipInfo | str, ...] = ()) -> bytes:
  """A miniature ESC-50 archive in GitHub's layout, uncompressed."""
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as zf:
    zf.writestr('ESC-50-master/meta/esc50.csv', _CSV)
    for seed, line in enumerate(_CSV.splitlines()[1:]):
      zf.writestr(f'ESC-50-master/audio/{line.split(",")[0]}', _wav(seed))
    for entry in extra_entries:
      zf.writestr(entry, b'evil')
  return buffer.getvalue()


_ARCHIVE = _esc50_zip()


class _ArchiveServer(http.server.ThreadingHTTPServer):
  """Serves `payload` at any path and records each request's Range header.

  `mode` is 'range' (honours Range), 'ignore_range' (always 200 with the full
  body) or 'truncate' (announces the full length, sends half and hangs up).
  """

  def __init__(self):
    super().__init__(('127.0.0.1', 0), _ArchiveHandler)
    self.payload = _ARCHIVE
    self.mode = 'range'
    self.range_headers: list[str | None] = []

  @property
  def url(self) -> str:
    return f'http://127.0.0.1:{self.server_address[1]}/master.zip'


class _ArchiveHandler(http.server.BaseHTTPRequestHandler):

  server: _ArchiveServer

  def do_GET(self):  # pylint: disable=invalid-name
    payload, mode = self.server.payload, self.server.mode
    range_header = self.headers.get('Range')
    self.server.range_headers.append(range_header)
    match = re.fullmatch(r'bytes=(\d+)-', range_header or '')
    if match and mode == 'range':
      start = int(match.group(1))
      if start >= len(payload):
        self.send_response(416)
        self.send_header('Content-Range', f'bytes */{len(payload)}')
        self.send_header('Content-Length', '0')
        self.end_headers()
        return
      self.send_response(206)
      self.send_header('Content-Range',
                       f'bytes {start}-{len(payload) - 1}/{len(payload)}')
      body = payload[start:]
    else:
      self.send_response(200)
      body = payload
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    self.wfile.write(body[:len(body) // 2] if mode == 'truncate' else body)

  def log_message(self, *args):
    del args  # Keeps test output quiet.


@pytest.fixture
def server():
  archive_server = _ArchiveServer()
  thread = threading.Thread(
      target=archive_server.serve_forever, kwargs={'poll_interval': 0.01},
      daemon=True)
  thread.start()
  yield archive_server
  archive_server.shutdown()
  archive_server.server_close()
  thread.join()


def _download(server: _ArchiveServer, to_dir, **kwargs) -> str:
  kwargs.setdefault('progress', None)
  return esc50_download.download_esc50(str(to_dir), url=server.url, **kwargs)


def _assert_is_the_test_dataset(root: str) -> None:
  with open(os.path.join(root, 'meta', 'esc50.csv')) as f:
    assert f.read() == _CSV
  assert sorted(os.listdir(os.path.join(root, 'audio'))) == [
      '1-100000-A-0.wav', '1-100001-A-5.wav', '2-100002-A-0.wav']
  with open(os.path.join(root, 'audio', '1-100001-A-5.wav'), 'rb') as f:
    assert f.read() == _wav(1)


def test_downloads_verifies_and_extracts(server, tmp_path):
  root = _download(server, tmp_path)

  assert root == str(tmp_path / 'ESC-50-master')
  _assert_is_the_test_dataset(root)
  assert server.range_headers == [None]
  sha256 = hashlib.sha256(_ARCHIVE).hexdigest()
  assert (tmp_path / 'ESC-50-master.zip').read_bytes() == _ARCHIVE
  assert (tmp_path / 'ESC-50-master.zip.sha256').read_text() == (
      f'{sha256}  ESC-50-master.zip\n')
  assert not (tmp_path / 'ESC-50-master.zip.part').exists()
  # Only the dataset, the archive and its checksum; no staging leftovers.
  assert sorted(os.listdir(tmp_path)) == [
      'ESC-50-master', 'ESC-50-master.zip', 'ESC-50-master.zip.sha256']


def test_second_call_makes_no_request(server, tmp_path):
  sha256 = hashlib.sha256(_ARCHIVE).hexdigest()
  first = _download(server, tmp_path, expected_sha256=sha256,
                    expected_size=len(_ARCHIVE))
  # Without the archive, anything but the marker check would download again.
  os.remove(tmp_path / 'ESC-50-master.zip')
  second = _download(server, tmp_path, expected_sha256=sha256.upper())
  third = _download(server, tmp_path)

  assert first == second == third
  assert len(server.range_headers) == 1


def test_complete_tree_of_another_archive_is_not_returned(server, tmp_path):
  _download(server, tmp_path)

  with pytest.raises(esc50_download.DownloadError, match='wrong SHA-256'):
    _download(server, tmp_path, expected_sha256='f' * 64)


def test_extracted_tree_without_marker_is_not_trusted(server, tmp_path):
  # A tree without the marker, e.g. a copy interrupted by the user.
  stale_root = tmp_path / 'ESC-50-master'
  (stale_root / 'meta').mkdir(parents=True)
  (stale_root / 'meta' / 'esc50.csv').write_text('stale')

  root = _download(server, tmp_path)

  assert len(server.range_headers) == 1
  _assert_is_the_test_dataset(root)


def test_resumes_a_partial_download_with_a_range_request(server, tmp_path):
  half = len(_ARCHIVE) // 2
  (tmp_path / 'ESC-50-master.zip.part').write_bytes(_ARCHIVE[:half])
  calls = []

  root = _download(server, tmp_path,
                   progress=lambda done, total: calls.append((done, total)))

  assert server.range_headers == [f'bytes={half}-']
  assert (tmp_path / 'ESC-50-master.zip').read_bytes() == _ARCHIVE
  _assert_is_the_test_dataset(root)
  assert calls[0][0] > half
  assert calls[-1] == (len(_ARCHIVE), len(_ARCHIVE))


def test_restarts_when_the_server_ignores_range(server, tmp_path):
  server.mode = 'ignore_range'
  (tmp_path / 'ESC-50-master.zip.part').write_bytes(b'garbage prefix')

  root = _download(server, tmp_path)

  assert server.range_headers == ['bytes=14-']
  assert (tmp_path / 'ESC-50-master.zip').read_bytes() == _ARCHIVE
  _assert_is_the_test_dataset(root)


def test_complete_partial_file_is_used_when_server_says_nothing_left(
    server, tmp_path):
  (tmp_path / 'ESC-50-master.zip.part').write_bytes(_ARCHIVE)

  root = _download(server, tmp_path)

  assert server.range_headers == [f'bytes={len(_ARCHIVE)}-']
  _assert_is_the_test_dataset(root)


def test_sha256_mismatch_raises_and_deletes_the_archive(server, tmp_path):
  wrong = '0' * 64
  actual = hashlib.sha256(_ARCHIVE).hexdigest()

  with pytest.raises(esc50_download.DownloadError,
                     match=f'expected {wrong}, got {actual}'):
    _download(server, tmp_path, expected_sha256=wrong)

  assert os.listdir(tmp_path) == []


def test_size_mismatch_raises_and_deletes_the_archive(server, tmp_path):
  with pytest.raises(esc50_download.DownloadError,
                     match=f'expected 123 bytes, got {len(_ARCHIVE)}'):
    _download(server, tmp_path, expected_size=123)

  assert os.listdir(tmp_path) == []


def test_connection_dropped_early_keeps_partial_for_resume(server, tmp_path):
  server.mode = 'truncate'

  with pytest.raises(esc50_download.DownloadError,
                     match=f'expected {len(_ARCHIVE)} bytes, got '
                     f'{len(_ARCHIVE) // 2}; call again to resume'):
    _download(server, tmp_path)

  assert os.listdir(tmp_path) == ['ESC-50-master.zip.part']
  server.mode = 'range'
  _assert_is_the_test_dataset(_download(server, tmp_path))
  assert server.range_headers[-1] == f'bytes={len(_ARCHIVE) // 2}-'


def test_truncated_archive_is_rejected(server, tmp_path):
  server.payload = _ARCHIVE[:len(_ARCHIVE) - 100]

  with pytest.raises(esc50_download.DownloadError, match='not a valid zip'):
    _download(server, tmp_path)

  assert os.listdir(tmp_path) == []


def test_corrupted_byte_fails_the_crc_check(server, tmp_path):
  corrupted = bytearray(_ARCHIVE)
  corrupted[_ARCHIVE.index(_wav(2)) + 500] ^= 0xFF
  server.payload = bytes(corrupted)

  with pytest.raises(esc50_download.DownloadError,
                     match='CRC check failed for .*2-100002-A-0.wav'):
    _download(server, tmp_path)

  assert os.listdir(tmp_path) == []


def test_archive_without_esc50_csv_is_rejected(server, tmp_path):
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as zf:
    zf.writestr('something-else/README.md', 'not ESC-50')
  server.payload = buffer.getvalue()

  with pytest.raises(esc50_download.DownloadError, match='meta/esc50.csv'):
    _download(server, tmp_path)

  assert os.listdir(tmp_path) == []


def _symlink_entry() -> zipfile.ZipInfo:
  info = zipfile.ZipInfo('ESC-50-master/audio/link.wav')
  info.external_attr = (stat.S_IFLNK | 0o777) << 16
  return info


@pytest.mark.parametrize('entry, reason', [
    ('../evil.txt', '".." path component'),
    ('ESC-50-master/../../evil.txt', '".." path component'),
    ('ESC-50-master\\..\\..\\evil.txt', '".." path component'),
    ('/tmp/evil.txt', 'absolute path'),
    ('C:/evil.txt', 'absolute path'),
    (_symlink_entry(), 'symbolic link'),
])
def test_unsafe_entries_are_rejected_before_extracting(server, tmp_path, entry,
                                                        reason):
  server.payload = _esc50_zip(extra_entries=(entry,))
  to_dir = tmp_path / 'downloads'

  with pytest.raises(esc50_download.DownloadError, match=reason):
    _download(server, to_dir)

  assert os.listdir(tmp_path) == ['downloads']
  assert os.listdir(to_dir) == []


def test_progress_reports_increasing_bytes_ending_at_total(server, tmp_path):
  calls = []

  _download(server, tmp_path, chunk_size=1000,
            progress=lambda done, total: calls.append((done, total)))

  done = [bytes_done for bytes_done, _ in calls]
  assert len(calls) == -(-len(_ARCHIVE) // 1000)
  assert done == sorted(set(done))
  assert {total for _, total in calls} == {len(_ARCHIVE)}
  assert calls[-1] == (len(_ARCHIVE), len(_ARCHIVE))


def test_print_progress_throttles_and_ends_the_line(monkeypatch, capsys):
  clock = [1e9]
  monkeypatch.setattr(esc50_download.time, 'monotonic', lambda: clock[0])

  for seconds, done in ((0.0, 100e6), (0.1, 200e6), (0.6, 300e6),
                        (0.7, 400e6)):
    clock[0] = 1e9 + seconds
    esc50_download.print_progress(int(done), int(400e6))

  assert capsys.readouterr().err == ('\rESC-50: 100.0/400.0 MB (25%)'
                                     '\rESC-50: 300.0/400.0 MB (75%)'
                                     '\rESC-50: 400.0/400.0 MB (100%)\n')


def test_unreachable_server_raises_download_error(tmp_path):
  with pytest.raises(esc50_download.DownloadError, match='failed'):
    esc50_download.download_esc50(
        str(tmp_path), url='http://127.0.0.1:9/master.zip', progress=None,
        timeout=5)
