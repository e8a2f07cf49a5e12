"""`yamnet-pipeline predict --timeline` on a long synthetic recording with
two known events, through the local model and TF Serving (REST and gRPC,
tests/tf_serving_double.py), and the streaming pieces it is built from."""

import json
import tracemalloc

import numpy as np
import pytest
from scipy import signal
import soundfile as sf

from data import audio
from data import audio_stream
from pipeline import cli
from serving import timeline
from yamnet import loader
from yamnet import spec

import tf_serving_double  # tests/: the TF Serving test double.
import trained_classifier

CLASSES = trained_classifier.CLASSES
MODEL_NAME = 'timeline_model'
# (class, start s): 5 s events in 150 s of rain.
EVENTS = (('dog', 40), ('cat', 100))
LENGTH_S = 150
HOP_S = spec.PATCH_HOP_SAMPLES / spec.SAMPLE_RATE


@pytest.fixture(scope='module')
def recording(standin_yamnet, tmp_path_factory):
  """(model base, FLAC at 16 kHz, WAV at 44.1 kHz stereo): a head trained on
  synthetic dog, cat and rain clips, and 150 s of those rain clips with a dog
  and a cat clip pasted in at EVENTS."""
  out = tmp_path_factory.mktemp('timeline_cli')
  base, clips = trained_classifier.train_and_export(str(out), standin_yamnet)
  long = np.concatenate(clips['rain'])[:LENGTH_S * 16000]
  for name, start_s in EVENTS:
    long[start_s * 16000:(start_s + 5) * 16000] = clips[name][0]
  flac = str(out / 'long.flac')
  sf.write(flac, long, 16000)
  wav = str(out / 'long_44k.wav')
  at_44k = signal.resample_poly(long, 441, 160)
  sf.write(wav, np.stack([at_44k, at_44k], axis=1), 44100, subtype='FLOAT')
  return base, flac, wav


def _events(capsys, *args):
  assert cli.main(['predict', '--timeline', '--json', *args]) == 0
  (line,) = capsys.readouterr().out.splitlines()
  return json.loads(line)['events']


def _check_events(found):
  """Each pasted clip is one event of its class, its ends within one hop
  (and a patch's reach) of the truth; rain is heard everywhere else."""
  for name, start_s in EVENTS:
    (event,) = [e for e in found if e['class_name'] == name]
    assert start_s - 2 * HOP_S <= event['start_s'] <= start_s + HOP_S
    assert start_s + 5 - HOP_S <= event['end_s'] <= start_s + 5 + 2 * HOP_S
    assert event['score'] > 0.9
  assert {e['class_name'] for e in found} == set(CLASSES)
  assert found[0]['start_s'] == 0.0
  last_patch = _patches_in(LENGTH_S * 16000) - 1
  assert found[-1]['end_s'] == pytest.approx(last_patch * HOP_S + 0.96)
  assert set(found[0]) == {'start_s', 'end_s', 'class_name', 'score'}


def test_local_model_finds_the_events(recording, capsys):
  base, flac, _ = recording
  _check_events(_events(capsys, '--model', base, flac))


def test_resampled_stereo_file_gives_the_same_events(recording, capsys):
  base, flac, wav = recording
  at_16k = _events(capsys, '--model', base, flac)
  at_44k = _events(capsys, '--model', base, wav)
  assert [e['class_name'] for e in at_44k] == [
      e['class_name'] for e in at_16k]
  for a, b in zip(at_44k, at_16k):
    assert abs(a['start_s'] - b['start_s']) <= HOP_S
    assert abs(a['end_s'] - b['end_s']) <= HOP_S


@pytest.mark.parametrize('transport', ['rest', 'grpc'])
def test_tf_serving_gives_the_local_timeline(recording, capsys, transport):
  base, flac, _ = recording
  double = tf_serving_double.ServingDouble(MODEL_NAME, base).start()
  try:
    url = dict(zip(('rest', 'grpc'), double.urls))[transport]
    served = _events(capsys, '--server', url, '--model-name', MODEL_NAME,
                     flac)
  finally:
    double.stop()
  local = _events(capsys, '--model', base, flac)
  assert [e['class_name'] for e in served] == [e['class_name'] for e in local]
  for a, b in zip(served, local):
    assert a['start_s'] == pytest.approx(b['start_s'], abs=1e-4)
    assert a['score'] == pytest.approx(b['score'], abs=1e-4)


def test_text_output_lists_one_line_per_event(recording, capsys):
  base, flac, _ = recording
  assert cli.main(['predict', '--timeline', '--model', base, flac]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f'{flac}: {len(lines) - 1} events'
  assert any(line.split()[-2:][0] == 'dog' for line in lines[1:])


def test_requests_cover_the_recordings_patches_exactly():
  """Requests over chunks of any size carry the whole recording's patches:
  each request's first patch follows the previous request's last."""
  for num_samples in (100, timeline.REQUEST_SAMPLES,
                      timeline.REQUEST_SAMPLES + 7000,
                      3 * timeline.REQUEST_SAMPLES + 123):
    waveform = np.arange(num_samples, dtype=np.float32)
    chunks = np.array_split(waveform, 7)
    expected = 0
    for first_patch, request in timeline.requests(chunks):
      assert first_patch == expected
      start = first_patch * spec.PATCH_HOP_SAMPLES
      np.testing.assert_array_equal(request, waveform[start:start + len(
          request)])
      expected += _patches_in(len(request))
    assert expected == _patches_in(num_samples)


def _patches_in(num_samples):
  return loader.yamnet_output_lengths(num_samples)[0]


def test_streamed_audio_equals_the_whole_file(tmp_path):
  rng = np.random.default_rng(0)
  for rate, channels in ((44100, 2), (8000, 1), (16000, 1)):
    path = str(tmp_path / f'{rate}.wav')
    sf.write(path, rng.uniform(-0.9, 0.9, (rate * 3 + 17, channels)), rate,
             subtype='FLOAT')
    streamed = np.concatenate(list(audio_stream.stream_16k(path, 5000)))
    np.testing.assert_array_equal(streamed, audio.read_waveform(path))


def test_events_merge_runs_and_drop_unsure_patches():
  def patch(i, name, p):
    return timeline.Patch(i * 0.48, i * 0.48 + 0.96, name, p, 'Speech', 0.5)

  found = timeline.events([patch(0, 'dog', 0.9), patch(1, 'dog', 0.7),
                           patch(2, 'dog', 0.3), patch(3, 'cat', 0.8),
                           patch(4, 'dog', 0.6)], min_probability=0.5)
  assert [(e.class_name, e.start_s, e.end_s) for e in found] == [
      ('dog', 0.0, 0.48 + 0.96), ('cat', 3 * 0.48, 3 * 0.48 + 0.96),
      ('dog', 4 * 0.48, 4 * 0.48 + 0.96)]
  assert found[0].score == pytest.approx(0.8)


def test_an_hour_long_file_is_streamed_not_loaded(tmp_path):
  """60 minutes at 8 kHz (230 MB as 16 kHz float32): the timeline's
  requests are built with a few MB of audio in memory at a time."""
  path = str(tmp_path / 'hour.wav')
  rng = np.random.default_rng(0)
  with sf.SoundFile(path, 'w', samplerate=8000, channels=1,
                    subtype='PCM_16') as f:
    for _ in range(60):
      f.write(rng.uniform(-0.1, 0.1, 8000 * 60))
  largest_request = 0

  def timeline_fn(waveform):
    nonlocal largest_request
    largest_request = max(largest_request, len(waveform))
    count = _patches_in(len(waveform))
    start = np.arange(count, dtype=np.float32) * HOP_S
    return {'start_s': start, 'end_s': start + 0.96,
            'probabilities': np.tile([[0.9, 0.05, 0.05]], (count, 1)),
            'class_name': np.array([b'dog'] * count),
            'yamnet_class_name': np.array([b'Silence'] * count),
            'yamnet_score': np.zeros(count, np.float32)}

  tracemalloc.start()
  try:
    patches = timeline.patches(timeline_fn, path)
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  assert len(patches) == _patches_in(3600 * 16000)
  assert patches[-1].start_s == pytest.approx((len(patches) - 1) * HOP_S)
  assert largest_request == timeline.REQUEST_SAMPLES
  # The whole hour at 16 kHz would be 230 MB; the per-patch rows ~3 MB.
  assert peak < 40e6
  assert [e.class_name for e in timeline.events(patches)] == ['dog']
