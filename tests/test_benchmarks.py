"""The benchmark scripts, run by their documented commands.

The embedding and end-to-end scripts need ../shared and skip without it;
the spans script runs on the stand-in YAMNet. Each script runs once on its
smallest settings, as docs/performance.md invokes it. The figures themselves
are not asserted (timings belong in benchmark output, not in tests); what is
asserted is that every figure the performance issue asks for is produced,
and that the work behind it was complete. Each script is its own xdist group
(tests/conftest.py), so `make test`'s workers run them side by side.
"""

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from conftest import require_shared

_CLIPS = 400


def _run_json(script, *args):
  require_shared()
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / script), '--json',
       *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  return json.loads(done.stdout)


@pytest.fixture(scope='module')
def embedding_report():
  return _run_json('embedding.py', '--clips', str(_CLIPS), '--modes',
                   'in_memory', '--rounds', '1')


@pytest.fixture(scope='module')
def end_to_end_report():
  return _run_json('end_to_end.py')


@pytest.mark.xdist_group('benchmark_embedding')
def test_embedding_benchmark_gives_the_tracked_figures(embedding_report):
  report = embedding_report
  for key in ('raw_patches_per_s', 'tutorial_patches_per_s',
              'pipeline_patches_per_s', 'pipeline_peak_rss_mb',
              'pipeline_peak_rss_mb_small',
              'pipeline_marginal_patches_per_s'):
    assert report[key] > 0, key
  assert report['pipeline_mode'] == 'in_memory'
  assert report['ratio_pipeline_to_raw'] == pytest.approx(
      report['pipeline_patches_per_s'] / report['raw_patches_per_s'])
  assert report['ratio_pipeline_to_tutorial'] == pytest.approx(
      report['pipeline_patches_per_s'] / report['tutorial_patches_per_s'])
  rounds = report['paired']['rounds']
  assert len(rounds) == 1
  assert report['ratio_pipeline_to_raw_paired'] == pytest.approx(
      rounds[0]['ratio'])


@pytest.mark.xdist_group('benchmark_embedding')
def test_embedding_benchmark_embeds_every_clip(embedding_report):
  datasets = embedding_report['datasets']
  assert set(datasets) == {'esc50-mini', f'synthetic-{_CLIPS}',
                           'synthetic-200'}
  for name, clips in ((f'synthetic-{_CLIPS}', _CLIPS),
                      ('synthetic-200', 200), ('esc50-mini', 414)):
    run = datasets[name]['in_memory']
    assert (run['clips_in'], run['clips'], run['quarantined']) == (
        clips, clips, 0), name
    # Five-second clips: ten patches each, all written.
    assert run['patches'] == run['patches_written'] == 10 * clips, name
  assert embedding_report['recipe']['patches'] == 10 * embedding_report[
      'recipe']['clips']


@pytest.mark.xdist_group('benchmark_end_to_end')
def test_end_to_end_benchmark_times_a_cold_and_a_cached_run(
    end_to_end_report):
  runs = end_to_end_report['pipeline']['runs']
  for run in runs.values():
    assert run['blessed']
    assert run['clips']['listed'] == 414
  # The cached run embeds nothing and reuses every clip's embeddings.
  assert runs['cold']['clips']['embedded'] == 414
  assert runs['cached']['clips']['embedded'] == 0
  assert runs['cached']['clips']['reused'] == 414
  cold, cached = runs['cold']['components'], runs['cached']['components']
  assert set(cold) == set(cached)
  assert all(c['status'] == 'complete' for c in cold.values())
  for name in ('Esc50ExampleGen', 'YamnetEmbeddingGen', 'Transform',
               'Trainer'):
    assert cold[name]['seconds'] > 0, name
    assert cached[name]['status'] == 'cached', name
  assert runs['cold']['wall_seconds'] > 0 and runs['cached']['wall_seconds'] > 0


@pytest.mark.xdist_group('benchmark_end_to_end')
def test_end_to_end_benchmark_compares_serving_latency(end_to_end_report):
  latency = end_to_end_report['latency']
  assert latency['samples'] == 80000
  for model in ('classifier serving_default', 'YAMNet serving_default',
                'classifier(waveform)', 'YAMNet(waveform)'):
    figures = latency['latency'][model]
    assert 0 < figures['p50_ms'] <= figures['p95_ms'], model
  assert set(latency['overhead_p50_percent']) == {'serving_default',
                                                  'python call'}


@pytest.mark.xdist_group('benchmark_spans')
def test_spans_benchmark_times_the_run_that_adds_a_span(tmp_path):
  """The smallest growing dataset, with the stand-in YAMNet (no ../shared)."""
  from yamnet import standin  # pylint: disable=g-import-not-at-top
  yamnet = standin.build_standin_yamnet(str(tmp_path / 'yamnet'))
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / 'spans.py'), '--json',
       '--spans', '2', '--clips-per-span', '20', '--classes', '2',
       '--yamnet', yamnet], cwd=REPO_ROOT, capture_output=True, text=True,
      check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  report = json.loads(done.stdout)
  incremental, cold = report['incremental'], report['cold']
  assert cold['clips']['embedded'] == cold['clips']['listed'] == 40
  assert incremental['clips']['embedded'] == 20
  assert incremental['clips']['reused'] == 20
  assert incremental['spans']['embedded'] == [2]
  assert set(incremental['components']) == set(cold['components'])
  assert report['ratio_incremental_to_cold'] > 0
  for facts in (incremental, cold):
    assert 0 <= facts['test_clip_accuracy'] <= 1
    assert isinstance(facts['blessed'], bool)


@pytest.mark.xdist_group('benchmark_long_audio')
def test_long_audio_benchmark_reports_memory_for_each_way_in(tmp_path):
  """Two short lengths with the stand-in YAMNet (no ../shared)."""
  from yamnet import standin  # pylint: disable=g-import-not-at-top
  yamnet = standin.build_standin_yamnet(str(tmp_path / 'yamnet'))
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / 'long_audio.py'),
       '--json', '--minutes', '0.25', '0.5', '--whole-up-to', '0.5',
       '--yamnet', yamnet], cwd=REPO_ROOT, capture_output=True, text=True,
      check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  report = json.loads(done.stdout)
  for mode in ('serving_default', 'serving_timeline', 'serving_wav',
               'yamnet_whole'):
    assert set(report['results'][mode]) == {'0.25', '0.5'}, mode
    for figures in report['results'][mode].values():
      assert figures['rss_peak_mb'] >= figures['rss_loaded_mb'] > 0
      assert figures['seconds'] > 0
  assert set(report['peak_rss_ratio_0.5_to_0.25_min']) == set(
      report['results'])
  assert set(report['peak_rss_target_met']) == {
      'serving_default', 'serving_timeline', 'serving_wav'}


@pytest.mark.xdist_group('benchmark_on_device')
def test_on_device_benchmark_compares_latency_and_size(tmp_path):
  """The stand-in YAMNet (no ../shared), one length, few calls."""
  from yamnet import standin  # pylint: disable=g-import-not-at-top
  yamnet = standin.build_standin_yamnet(str(tmp_path / 'yamnet'))
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / 'on_device.py'),
       '--json', '--seconds', '1', '--calls', '20', '--yamnet', yamnet],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  report = json.loads(done.stdout)
  models = {'saved_model', 'tflite_float', 'tflite_int8'}
  assert set(report['size_bytes']) == models
  assert report['size_bytes']['tflite_int8'] < report['size_bytes'][
      'tflite_float']
  figures = report['latency']['1.0']
  assert set(figures) == models
  for model in models:
    assert 0 < figures[model]['p50_ms'] <= figures[model]['p95_ms']
    assert figures[model]['ms_per_second_of_audio'] == figures[model][
        'p50_ms']


@pytest.mark.xdist_group('benchmark_scale')
def test_scale_benchmark_gives_every_figure_per_component(standin_yamnet):
  """Two tiny sizes (2 classes, 1 and 2 clips per class and fold, 2
  epochs) with the stand-in YAMNet (no ../shared): two cold pipeline runs."""
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / 'scale.py'), '--json',
       '--clips', '10,20', '--classes', '2', '--epochs', '2',
       '--yamnet', standin_yamnet],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  report = json.loads(done.stdout)
  runs = report['runs']
  assert [run['clips'] for run in runs] == [10, 20]
  names = set(runs[0]['components'])
  assert {'Esc50ExampleGen', 'YamnetEmbeddingGen', 'Transform', 'Trainer',
          'Evaluator', 'Pusher'} <= names
  for run in runs:
    assert run['clips_embedded'] == run['clips']
    assert run['total_wall_s'] > 0
    assert set(run['components']) == names
    for name, figures in run['components'].items():
      for key in ('wall_s', 'cpu_s', 'peak_rss_mb'):
        assert figures[key] > 0, (run['clips'], name, key)
    # No process's CPU is counted twice (the Pusher's checks run in their
    # own processes).
    assert sum(f['cpu_s'] for f in run['components'].values()) <= run[
        'total_cpu_s'] * 1.01
  for name in names:
    facts = report['per_component'][name]
    assert set(facts['s_per_1000_clips']) == {'10', '20'}, name
    for fit in (facts['fit'], facts['cpu_fit']):
      assert set(fit) == {'fixed_s', 's_per_1000_clips_marginal'}, name
    assert facts['peak_rss_ratio'] > 0, name
  assert report['largest_fixed_cost']['component'] in names | {
      '(start-up)'}
  targets = report['targets']
  assert targets['sizes'] == [10, 20]
  assert targets['total_wall_ratio_max'] == 2
  assert isinstance(targets['total_wall_met'], bool)


@pytest.mark.xdist_group('benchmark_warm_start')
def test_warm_start_benchmark_pairs_both_starts_on_every_fold(tmp_path):
  """A small synthetic set in ESC-50's layout, with the stand-in YAMNet."""
  from data import synthetic  # pylint: disable=g-import-not-at-top
  from models import hyperparameters  # pylint: disable=g-import-not-at-top
  from yamnet import standin  # pylint: disable=g-import-not-at-top
  data = str(tmp_path / 'esc50')
  synthetic.write_synthetic_esc50(data, ['dog', 'rain', 'rooster'],
                                  clips_per_class_per_fold=4, seed=0)
  done = subprocess.run(
      [sys.executable, str(REPO_ROOT / 'benchmarks' / 'warm_start.py'),
       '--json', '--seeds', '1', '--tasks', 'all', '--data-root', data,
       '--yamnet', standin.build_standin_yamnet(str(tmp_path / 'yamnet')),
       '--output', str(tmp_path / 'out')], cwd=REPO_ROOT, capture_output=True,
      text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  task = json.loads(done.stdout)['tasks']['all']
  assert task['classes'] == 3
  assert sorted(row['held_out'] for row in task['rows']) == [1, 2, 3, 4, 5]
  warm_start_epochs = hyperparameters.Hyperparameters().warm_start_epochs
  for row in task['rows']:
    for kind in ('earlier', 'fresh', 'warm'):
      assert 0 <= row[kind]['accuracy'] <= 1 and row[kind]['seconds'] > 0
    assert 1 <= row['warm']['epochs'] <= warm_start_epochs
  assert task['pairs'] == 5 and task['seconds_warm_to_fresh'] > 0
