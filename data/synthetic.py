"""A synthetic stand-in for ESC-50, laid out exactly like the real dataset.

Tests and the offline demo need ESC-50's layout (meta/esc50.csv plus
audio/<fold>-<src_file>-<take>-<target>.wav, five folds) without downloading
600 MB. Each class gets an acoustic signature that is easy to tell apart on a
log-mel spectrogram: a harmonic tone whose fundamental sits in its own
frequency region (spread log-uniformly over 150-6000 Hz), a class-specific
harmonic pattern and amplitude-modulation rate, and a texture (steady tone,
octave noise band or bursts) that differs between neighbouring classes. Clips of a class vary in phase,
pitch (+-2%), gain and noise so a model has to generalise a little.
"""

import csv
import os
from typing import Sequence

import numpy as np
import soundfile

from data.esc50_classes import DEFAULT_CLASSES
from data.esc50_classes import ESC10_CLASSES
from data.esc50_classes import ESC50_CLASSES
from data.esc50_classes import parse_classes
from data.esc50_classes import target_of

_CSV_HEADER = ('filename', 'fold', 'target', 'category', 'esc10', 'src_file',
               'take')
_FOLDS = (1, 2, 3, 4, 5)
_FIRST_SRC_FILE = 100000
_LOWEST_FUNDAMENTAL_HZ = 150.0
_HIGHEST_FUNDAMENTAL_HZ = 6000.0
# Partials stay below YAMNet's 7.5 kHz mel ceiling so all of them are heard.
_HIGHEST_PARTIAL_HZ = 7500.0
_PARTIALS = 4
_PITCH_JITTER = 0.02
_NOISE_STD = 0.02
# Fractional part of multiples of the golden ratio spreads modulation rates
# evenly and keeps neighbouring fundamentals at unrelated rates.
_GOLDEN_RATIO = (1 + 5**0.5) / 2
# Textures cycle with the class rank, so neighbouring classes also differ in
# spectral shape and time pattern, not only in pitch: a model that is blind to
# where energy sits in frequency (like an untrained conv net) can still tell
# them apart.
_TEXTURES = ('tone', 'noise', 'pulses')


def _class_signature(rank: int,
                     num_classes: int) -> tuple[float, int, float, str]:
  """Fundamental (Hz), partial spacing, AM rate (Hz) and texture of a class."""
  position = rank / (num_classes - 1)
  fundamental = _LOWEST_FUNDAMENTAL_HZ * (
      _HIGHEST_FUNDAMENTAL_HZ / _LOWEST_FUNDAMENTAL_HZ)**position
  # Alternating all-harmonic and odd-harmonic spectra separate neighbours
  # whose fundamentals share a mel band.
  partial_spacing = 1 + rank % 2
  modulation_rate = 1.0 + 7.0 * ((rank * _GOLDEN_RATIO) % 1.0)
  return (fundamental, partial_spacing, modulation_rate,
          _TEXTURES[rank % len(_TEXTURES)])


def _harmonic_tone(fundamental: float, partial_spacing: int, t: np.ndarray,
                   rng: np.random.Generator, sample_rate: int) -> np.ndarray:
  tone = np.zeros_like(t)
  for index in range(_PARTIALS):
    harmonic = 1 + index * partial_spacing
    frequency = harmonic * fundamental
    if frequency > min(_HIGHEST_PARTIAL_HZ, sample_rate / 2):
      break
    tone += np.sin(2 * np.pi * frequency * t +
                   rng.uniform(0, 2 * np.pi)) / harmonic
  return tone


def _noise_band(fundamental: float, num_samples: int,
                rng: np.random.Generator, sample_rate: int) -> np.ndarray:
  """White noise kept to one octave around the fundamental."""
  spectrum = np.fft.rfft(rng.normal(size=num_samples))
  frequencies = np.fft.rfftfreq(num_samples, 1 / sample_rate)
  spectrum[(frequencies < fundamental / 2**0.5) |
           (frequencies > fundamental * 2**0.5)] = 0
  return np.fft.irfft(spectrum, n=num_samples)


def _synthesize_clip(rank: int, num_classes: int, rng: np.random.Generator,
                     sample_rate: int, duration_s: float) -> np.ndarray:
  """One clip of the class at `rank`, peak amplitude in [0.3, 0.8]."""
  fundamental, partial_spacing, modulation_rate, texture = _class_signature(
      rank, num_classes)
  fundamental *= rng.uniform(1 - _PITCH_JITTER, 1 + _PITCH_JITTER)
  t = np.arange(int(round(sample_rate * duration_s))) / sample_rate
  if texture == 'noise':
    source = _noise_band(fundamental, t.size, rng, sample_rate)
  else:
    source = _harmonic_tone(fundamental, partial_spacing, t, rng, sample_rate)
  phase = rng.uniform(0, 2 * np.pi)
  if texture == 'pulses':
    # Bursts: a peaked envelope, fast enough that every patch holds several.
    envelope = np.maximum(
        0, np.sin(2 * np.pi * (4 + modulation_rate) * t + phase))**4
  else:
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * modulation_rate * t + phase)
  clip = source * envelope / np.max(np.abs(source))
  clip += rng.normal(0.0, _NOISE_STD, size=clip.shape)
  return clip * (rng.uniform(0.3, 0.8) / np.max(np.abs(clip)))


def write_synthetic_esc50(root: str,
                          classes: Sequence[str] = DEFAULT_CLASSES,
                          clips_per_class_per_fold: int = 2,
                          seed: int = 0,
                          sample_rate: int = 44100,
                          duration_s: float = 5.0) -> str:
  """Writes a synthetic ESC-50 under `root` and returns its esc50.csv path.

  Output is a pure function of the arguments (same seed, same bytes), so tests
  can compare runs. A class's sound depends on its rank by ESC-50 target among
  `classes`, so the listed order does not matter and a small selection gets
  widely spaced frequency regions.
  """
  classes = parse_classes(list(classes))
  unknown = [name for name in classes if name not in ESC50_CLASSES]
  if unknown:
    raise ValueError(f'Unknown ESC-50 class(es) for a synthetic ESC-50: '
                     f'{unknown} (write_synthetic_folders takes any names)')
  if clips_per_class_per_fold < 1:
    raise ValueError('clips_per_class_per_fold must be at least 1, got '
                     f'{clips_per_class_per_fold}')
  # Below 16 kHz the highest fundamentals would exceed the Nyquist frequency.
  if sample_rate < 16000:
    raise ValueError(f'sample_rate must be at least 16000, got {sample_rate}')
  if duration_s * sample_rate < 1:
    raise ValueError(f'duration_s is too short for one sample: {duration_s}')
  targets = sorted(target_of(category) for category in classes)
  audio_dir = os.path.join(root, 'audio')
  meta_dir = os.path.join(root, 'meta')
  os.makedirs(audio_dir, exist_ok=True)
  os.makedirs(meta_dir, exist_ok=True)

  rows = []
  for fold in _FOLDS:
    for category in classes:
      target = target_of(category)
      rank = targets.index(target)
      for clip_index in range(clips_per_class_per_fold):
        src_file = _FIRST_SRC_FILE + len(rows)
        filename = f'{fold}-{src_file}-A-{target}.wav'
        # Seeding per clip keeps each clip independent of generation order.
        rng = np.random.default_rng([seed, target, fold, clip_index])
        clip = _synthesize_clip(rank, len(classes), rng, sample_rate,
                                duration_s)
        soundfile.write(os.path.join(audio_dir, filename), clip, sample_rate,
                        subtype='PCM_16', format='WAV')
        rows.append((filename, fold, target, category,
                     str(category in ESC10_CLASSES), src_file, 'A'))

  csv_path = os.path.join(meta_dir, 'esc50.csv')
  with open(csv_path, 'w', newline='') as f:
    writer = csv.writer(f, lineterminator='\n')
    writer.writerow(_CSV_HEADER)
    writer.writerows(rows)
  return csv_path


def write_synthetic_folders(root: str, classes: Sequence[str],
                            sources_per_class: int = 5, takes: int = 2,
                            formats: Sequence[str] = ('wav', 'flac', 'ogg'),
                            seed: int = 0, sample_rate: int = 22050,
                            duration_s: float = 2.0,
                            all_classes: Sequence[str] = ()) -> None:
  """Writes a dataset in the folder-per-class layout under `root`.

  `<class>/rec-<source>-<take>.<format>`, every third source one folder
  deeper (`<class>/more/...`), formats taking turns; plus what a real folder
  holds beside audio and must be skipped: a notes file per class and a
  hidden folder. A class's sound depends on its rank among the sorted
  `all_classes` (default: `classes`), so spans written with the same
  `all_classes` sound alike.
  """
  universe = sorted(set(all_classes) | set(classes))
  for name in sorted(classes):
    rank = universe.index(name)
    for source in range(sources_per_class):
      folder = os.path.join(root, name, *(['more'] if source % 3 == 2 else []))
      os.makedirs(folder, exist_ok=True)
      for take in range(takes):
        fmt = formats[(source + take) % len(formats)]
        rng = np.random.default_rng([seed, rank, source, take])
        clip = _synthesize_clip(rank, max(len(universe), 2), rng, sample_rate,
                                duration_s)
        soundfile.write(
            os.path.join(folder, f'rec-{source}-{"ABCDEFGH"[take]}.{fmt}'),
            clip, sample_rate, format=fmt.upper(),
            subtype='VORBIS' if fmt == 'ogg' else 'PCM_16')
    with open(os.path.join(root, name, 'notes.txt'), 'w') as f:
      f.write('recorded on site\n')
  os.makedirs(os.path.join(root, '.cache', 'x'), exist_ok=True)
  with open(os.path.join(root, '.cache', 'x', 'old.wav'), 'wb') as f:
    f.write(b'not listed')
