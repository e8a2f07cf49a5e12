"""TFLite models of a trained classifier: converted, checked against the
SavedModel, written only when they agree, and run by `predict --tflite`."""

import json
import os

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from pipeline import cli
from serving import contract
from serving import tflite_check
from serving import tflite_export

import trained_classifier


@pytest.fixture(scope='module')
def exported(standin_yamnet, tmp_path_factory):
  """(SavedModel version dir, check clips as wav files, TFLite folder,
  export-tflite's exit code and output)."""
  out = tmp_path_factory.mktemp('tflite')
  base, clips = trained_classifier.train_and_export(str(out), standin_yamnet)
  files = []
  for name, waveforms in clips.items():
    for i, waveform in enumerate(waveforms[:8]):
      path = str(out / f'{name}-{i}.wav')
      sf.write(path, waveform, 16000, subtype='FLOAT')
      files.append(path)
  tflite_dir = str(out / 'tflite')
  code = cli.main(['export-tflite', '--model', base, '--output', tflite_dir,
                   *files])
  return os.path.join(base, '1'), files, tflite_dir, code


def test_variants_are_written_exactly_when_their_checks_pass(exported):
  """The float variant matches the SavedModel; the int8 one is written only
  if its top-1 agrees on 99% of the clips (on the stand-in YAMNet, whose
  random weights quantize badly, it does not), and the exit code says so."""
  _, files, tflite_dir, code = exported
  written = set(os.listdir(tflite_dir))
  assert contract.LABELS_ASSET in written
  assert tflite_export.file_name(tflite_export.FLOAT) in written
  with open(os.path.join(tflite_dir, contract.LABELS_ASSET)) as f:
    assert f.read().split() == trained_classifier.CLASSES
  int8_written = tflite_export.file_name(tflite_export.INT8) in written
  assert code == (0 if int8_written else 1)
  waveforms = [sf.read(f, dtype='float32')[0] for f in files]
  int8 = tflite_export.convert(exported[0])[tflite_export.INT8]
  expected = np.stack([tf.saved_model.load(exported[0]).signatures[
      'serving_default'](audio=tf.constant(w))['probabilities'].numpy()
                       for w in waveforms])
  agreement = np.mean(tflite_export.tflite_probabilities(
      int8, waveforms).argmax(axis=1) == expected.argmax(axis=1))
  assert int8_written == (agreement >= tflite_check.MIN_TOP1_AGREEMENT)
  # Dynamic-range int8 stores the weights in about a quarter of the bytes.
  assert len(int8) < 0.5 * os.path.getsize(os.path.join(
      tflite_dir, tflite_export.file_name(tflite_export.FLOAT)))


def test_predict_tflite_agrees_with_the_saved_model(exported, capsys):
  version_dir, files, tflite_dir, _ = exported
  capsys.readouterr()
  model = tf.saved_model.load(version_dir)
  for variant in tflite_export.VARIANTS:
    path = os.path.join(tflite_dir, tflite_export.file_name(variant))
    if not os.path.exists(path):
      continue
    assert cli.main(['predict', '--tflite', path, '--json', *files]) == 0
    results = [json.loads(line) for line in
               capsys.readouterr().out.splitlines()]
    assert [r['file'] for r in results] == files
    for result in results:
      waveform, _ = sf.read(result['file'], dtype='float32')
      expected = model.signatures['serving_default'](
          audio=tf.constant(waveform))
      assert result['class_name'] == expected['class_name'].numpy().decode()
      if variant == tflite_export.FLOAT:
        np.testing.assert_allclose(
            [result['scores'][c] for c in trained_classifier.CLASSES],
            expected['probabilities'].numpy(), atol=1e-3)


def test_a_variant_that_disagrees_fails_its_check_with_the_figure(
    exported, monkeypatch):
  """With a tolerance the float model cannot meet, its check fails and the
  reason names the figure."""
  version_dir, files, tflite_dir, _ = exported
  monkeypatch.setattr(tflite_check, 'MAX_PROBABILITY_DIFF', -1.0)
  path = os.path.join(tflite_dir, tflite_export.file_name(tflite_export.FLOAT))
  with open(path, 'rb') as f:
    content = f.read()
  (result,) = tflite_check.check(
      version_dir, [tflite_check.Candidate(tflite_export.FLOAT, content,
                                           exact=True)],
      tflite_check.waveforms(tflite_check.AUDIO_FILES, files[:3]))
  assert not result.passed and result.clips == 3
  assert 'probabilities differ by up to' in result.reason
  assert result.top1_agreement == 1.0


def test_timeline_of_a_tflite_model_is_refused_with_a_reason(exported,
                                                              capsys):
  _, files, tflite_dir, _ = exported
  path = os.path.join(tflite_dir, tflite_export.file_name(tflite_export.FLOAT))
  assert cli.main(['predict', '--timeline', '--tflite', path, files[0]]) == 2
  assert '--timeline needs --model or --server' in capsys.readouterr().err
