"""The `yamnet-pipeline` command line: help, argument errors, clear failures."""

import subprocess
import sys

import pytest

from data import synthetic
from pipeline import cli
from pipeline import configs
from pipeline import local_runner
from pipeline import options


def test_help_lists_subcommands_without_loading_tensorflow():
  code = ('import sys; from pipeline import cli\n'
          'try:\n  cli.main(["--help"])\nexcept SystemExit:\n  pass\n'
          'print("tensorflow" in sys.modules)')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True).stdout
  for command in ('run', 'demo', 'download-esc50', 'predict'):
    assert command in out
  assert out.strip().endswith('False')


def test_unknown_class_names_the_valid_ones(tmp_path, capsys):
  """Checked against the dataset's own classes, before any component."""
  data_root = tmp_path / 'esc50'
  synthetic.write_synthetic_esc50(str(data_root),
                                  classes=['dog', 'rooster', 'cat'],
                                  clips_per_class_per_fold=1, duration_s=0.1)
  code = cli.main(['run', '--data-root', str(data_root), '--yamnet',
                   str(tmp_path), '--classes', 'dog,wolf', '--output',
                   str(tmp_path / 'out')])
  err = capsys.readouterr().err
  assert code == 1
  assert ('class(es) wolf not in the dataset. Its classes: dog, rooster, '
          'cat' in err)
  assert not (tmp_path / 'out' / 'metadata.sqlite').exists()


def test_missing_data_root_is_a_usage_error(monkeypatch, capsys):
  monkeypatch.delenv('ESC50_ROOT', raising=False)
  assert cli.main(['run']) == 2
  assert '--data-root (or $ESC50_ROOT) is required' in capsys.readouterr().err


def test_unreadable_data_root_fails_before_any_component(tmp_path, capsys):
  code = cli.main(['run', '--data-root', str(tmp_path / 'nowhere'),
                   '--yamnet', str(tmp_path), '--output', str(tmp_path / 'o')])
  assert code == 1
  assert 'not a readable directory' in capsys.readouterr().err
  assert not (tmp_path / 'o' / 'metadata.sqlite').exists()


def test_environment_variables_are_the_defaults(monkeypatch):
  monkeypatch.setenv('ESC50_ROOT', '/data/esc50')
  monkeypatch.setenv('YAMNET_HANDLE', '/models/yamnet')
  args = cli.build_parser().parse_args(['run'])
  config = options.build_config(options.ALL_FIELDS, args)
  assert config.data_root == '/data/esc50'
  assert config.yamnet_handle == '/models/yamnet'


def test_bad_fold_list_is_rejected():
  with pytest.raises(SystemExit):
    cli.build_parser().parse_args(['run', '--train-folds', '1,x'])


def test_second_run_on_the_same_output_fails_clearly(tmp_path):
  with local_runner.exclusive_output(str(tmp_path)):
    with pytest.raises(local_runner.RunInProgressError,
                       match='another run .* is using'):
      with local_runner.exclusive_output(str(tmp_path)):
        pass
  # Released after the first run ends.
  with local_runner.exclusive_output(str(tmp_path)):
    pass


def test_run_refuses_an_output_another_run_holds(tmp_path, standin_yamnet):
  from data import synthetic  # pylint: disable=g-import-not-at-top
  data_root = str(tmp_path / 'data')
  synthetic.write_synthetic_esc50(data_root, clips_per_class_per_fold=1,
                                  duration_s=0.5)
  config = configs.PipelineConfig(
      data_root=data_root, yamnet_handle=standin_yamnet,
      classes=['dog', 'cat'], output_dir=str(tmp_path / 'out'))
  with local_runner.exclusive_output(config.output_dir):
    with pytest.raises(local_runner.RunInProgressError):
      local_runner.run_local(config)
  assert not (tmp_path / 'out' / 'metadata.sqlite').exists()
