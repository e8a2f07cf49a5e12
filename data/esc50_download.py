"""Downloads and safely extracts the ESC-50 dataset.

The archive is GitHub's generated zip of the ESC-50 repository (~650 MB). The
download resumes after interruption (HTTP Range), and the archive is checked
before anything is extracted: size, optional SHA-256, the CRC of every entry
and the presence of meta/esc50.csv. Entries that could escape the target
directory (absolute paths, drive letters, `..`, symlinks) are refused.

GitHub publishes no checksum for its generated archives, so `expected_sha256`
is optional. After a successful download the archive's SHA-256 is written to
`ESC-50-master.zip.sha256`; pass it as `expected_sha256` to pin later
downloads to exactly that archive.
"""

import hashlib
import http.client
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from typing import Callable
import urllib.error
import urllib.request
import zipfile
import zlib

ESC50_URL = 'https://github.com/karolpiczak/ESC-50/archive/master.zip'

# Receives (bytes downloaded so far, total bytes or None when unknown).
ProgressFn = Callable[[int, int | None], None]

_ROOT_NAME = 'ESC-50-master'
_COMPLETE_MARKER = '.complete'
_CSV_ENTRY = re.compile(r'^[^/]+/meta/esc50\.csv$')
_CONTENT_RANGE = re.compile(r'bytes (?:(\d+)-\d+|\*)/(\d+|\*)')


class DownloadError(RuntimeError):
  """The dataset could not be downloaded, verified or extracted."""


class _StderrProgress:
  """Rewrites one stderr line at most every 0.5 s, then ends it when done."""

  def __init__(self, min_interval_s: float = 0.5):
    self._min_interval_s = min_interval_s
    self._last_report = float('-inf')

  def __call__(self, bytes_done: int, total: int | None) -> None:
    finished = bytes_done == total
    now = time.monotonic()
    if not finished and now - self._last_report < self._min_interval_s:
      return
    self._last_report = now
    line = f'\rESC-50: {bytes_done / 1e6:.1f}'
    if total:
      line += f'/{total / 1e6:.1f} MB ({100 * bytes_done // total}%)'
    else:
      line += ' MB'
    sys.stderr.write(line + ('\n' if finished else ''))
    sys.stderr.flush()


print_progress: ProgressFn = _StderrProgress()


def download_esc50(to_dir: str,
                   url: str = ESC50_URL,
                   expected_sha256: str | None = None,
                   expected_size: int | None = None,
                   progress: ProgressFn | None = print_progress,
                   chunk_size: int = 1 << 20,
                   timeout: float = 60) -> str:
  """Downloads ESC-50 into `to_dir` and returns the dataset root.

  The root is `to_dir/ESC-50-master`, holding meta/esc50.csv and audio/. A
  root whose completion marker is present (and matches `expected_sha256`, if
  given) is returned without touching the network. An interrupted download
  leaves `ESC-50-master.zip.part` and resumes from it on the next call; a
  complete `ESC-50-master.zip` left by an earlier call is verified and reused.
  `progress` is called after every chunk and finally with
  bytes_done == total; pass None for silence.

  Raises:
    DownloadError: on network failure, a size or SHA-256 mismatch, a corrupt
      or unsafe archive, or one without meta/esc50.csv. A bad archive is
      deleted, so calling again downloads it afresh.
  """
  root = os.path.join(to_dir, _ROOT_NAME)
  if _is_complete(root, expected_sha256):
    return root
  os.makedirs(to_dir, exist_ok=True)
  archive = os.path.join(to_dir, _ROOT_NAME + '.zip')
  if not os.path.exists(archive):
    partial = archive + '.part'
    _fetch(url, partial, progress, chunk_size, timeout)
    os.replace(partial, archive)
  try:
    sha256 = _verify_archive(archive, expected_size, expected_sha256)
  except DownloadError:
    os.remove(archive)
    raise
  with open(archive + '.sha256', 'w') as f:
    f.write(f'{sha256}  {os.path.basename(archive)}\n')
  _extract(archive, to_dir, root, sha256)
  return root


def _is_complete(root: str, expected_sha256: str | None) -> bool:
  """Whether `root` holds a finished extract of the expected archive."""
  marker = os.path.join(root, _COMPLETE_MARKER)
  if not (os.path.isfile(os.path.join(root, 'meta', 'esc50.csv')) and
          os.path.isfile(marker)):
    return False
  if expected_sha256 is None:
    return True
  with open(marker) as f:
    return f.read().strip() == expected_sha256.lower()


def _fetch(url: str, partial: str, progress: ProgressFn | None,
           chunk_size: int, timeout: float) -> None:
  """Downloads `url` into `partial`, resuming from the bytes already there."""
  offset = os.path.getsize(partial) if os.path.exists(partial) else 0
  request = urllib.request.Request(url)
  if offset:
    request.add_header('Range', f'bytes={offset}-')
  try:
    response = urllib.request.urlopen(request, timeout=timeout)
  except urllib.error.HTTPError as e:
    if e.code == 416 and offset:
      # Nothing left to send: either the partial file is already whole, or it
      # is longer than the current archive and must be discarded.
      match = _CONTENT_RANGE.fullmatch(e.headers.get('Content-Range', ''))
      if match and match.group(2) == str(offset):
        return
      os.remove(partial)
      _fetch(url, partial, progress, chunk_size, timeout)
      return
    raise DownloadError(
        f'Downloading {url} failed: HTTP {e.code} {e.reason}') from e
  except (urllib.error.URLError, OSError) as e:
    raise DownloadError(f'Downloading {url} failed: {e}') from e

  with response:
    total = _response_total(response)
    if response.status == 206:
      match = _CONTENT_RANGE.fullmatch(
          response.headers.get('Content-Range', ''))
      if not match or match.group(1) != str(offset):
        raise DownloadError(
            f'Server resumed {url} at the wrong offset '
            f'(asked for {offset}, got {response.headers["Content-Range"]}).')
      mode = 'ab'
    else:  # The server ignored the Range header and sends everything.
      offset, mode = 0, 'wb'
    bytes_done = offset
    try:
      with open(partial, mode) as f:
        while chunk := response.read(chunk_size):
          f.write(chunk)
          bytes_done += len(chunk)
          if progress:
            progress(bytes_done, total)
    except (OSError, http.client.HTTPException) as e:
      raise DownloadError(
          f'Download of {url} interrupted at {bytes_done} bytes ({e}); call '
          'again to resume.') from e

  if total is not None and bytes_done < total:
    raise DownloadError(
        f'Download of {url} ended early: expected {total} bytes, got '
        f'{bytes_done}; call again to resume.')
  if total is not None and bytes_done > total:
    os.remove(partial)
    raise DownloadError(
        f'Download of {url} is larger than announced: expected {total} bytes, '
        f'got {bytes_done}; deleted it.')
  if progress and total is None:
    progress(bytes_done, bytes_done)


def _response_total(response) -> int | None:
  """Full archive size from Content-Range (206) or Content-Length (200)."""
  if response.status == 206:
    match = _CONTENT_RANGE.fullmatch(response.headers.get('Content-Range', ''))
    if match and match.group(2) != '*':
      return int(match.group(2))
    return None
  length = response.headers.get('Content-Length')
  return int(length) if length and length.isdigit() else None


def _verify_archive(archive: str, expected_size: int | None,
                    expected_sha256: str | None) -> str:
  """Checks size, SHA-256 and zip contents; returns the SHA-256 hex digest."""
  size = os.path.getsize(archive)
  if expected_size is not None and size != expected_size:
    raise DownloadError(f'{archive} has the wrong size: expected '
                        f'{expected_size} bytes, got {size}; deleted it.')
  digest = hashlib.sha256()
  with open(archive, 'rb') as f:
    while block := f.read(1 << 20):
      digest.update(block)
  sha256 = digest.hexdigest()
  if expected_sha256 is not None and sha256 != expected_sha256.lower():
    raise DownloadError(f'{archive} has the wrong SHA-256: expected '
                        f'{expected_sha256}, got {sha256}; deleted it.')
  try:
    with zipfile.ZipFile(archive) as zf:
      for info in zf.infolist():
        _check_entry_is_safe(info)
      if not any(_CSV_ENTRY.match(name) for name in zf.namelist()):
        raise DownloadError(
            f'{archive} has no <folder>/meta/esc50.csv; it is not ESC-50. '
            'Deleted it.')
      corrupt_entry = zf.testzip()
  except (zipfile.BadZipFile, zlib.error, EOFError) as e:
    raise DownloadError(
        f'{archive} is not a valid zip ({e}); deleted it.') from e
  if corrupt_entry is not None:
    raise DownloadError(f'{archive} is corrupt: CRC check failed for '
                        f'{corrupt_entry}; deleted it.')
  return sha256


def _check_entry_is_safe(info: zipfile.ZipInfo) -> None:
  """Refuses entries that would be written outside the extraction folder."""
  name = info.filename
  parts = re.split(r'[/\\]', name)
  if name.startswith(('/', '\\')) or re.match(r'^[A-Za-z]:', name):
    reason = 'absolute path'
  elif '..' in parts:
    reason = '".." path component'
  elif stat.S_ISLNK(info.external_attr >> 16):
    reason = 'symbolic link'
  else:
    return
  raise DownloadError(
      f'Refusing to extract unsafe archive entry {name!r} ({reason}); deleted '
      'the archive.')


def _extract(archive: str, to_dir: str, root: str, sha256: str) -> None:
  """Extracts next to `root`, then renames into place once complete."""
  staging = tempfile.mkdtemp(prefix=f'.{_ROOT_NAME}-extract-', dir=to_dir)
  try:
    with zipfile.ZipFile(archive) as zf:
      csv_entry = next(
          name for name in zf.namelist() if _CSV_ENTRY.match(name))
      zf.extractall(staging)
    extracted_root = os.path.join(staging, csv_entry.split('/')[0])
    with open(os.path.join(extracted_root, _COMPLETE_MARKER), 'w') as f:
      f.write(sha256 + '\n')
    if os.path.exists(root):
      shutil.rmtree(root)
    os.rename(extracted_root, root)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
