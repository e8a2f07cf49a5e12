"""AtomicPusher's executor: TF Serving never sees a partial version folder."""

import json
import os

import pytest
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components.atomic_pusher import executor
from components.atomic_pusher.component import AtomicPusher

OLD_VERSION = '100'


def _integer_dirs(base):
  return sorted(n for n in os.listdir(base) if n.isdigit())


@pytest.fixture
def layout(tmp_path):
  """A trained model (several files) and a base that already serves 100."""
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  export = tmp_path / 'model' / 'Format-Serving'
  (export / 'variables').mkdir(parents=True)
  (export / 'saved_model.pb').write_bytes(b'graph')
  (export / 'variables' / 'variables.index').write_bytes(b'index')
  (export / 'variables' / 'variables.data-00000-of-00001').write_bytes(b'w')
  (export / 'model_card.json').write_text('{}')
  (export / executor.FINGERPRINT_FILE).write_bytes(b'new model')
  base = tmp_path / 'serving' / 'sound_classifier'
  (base / OLD_VERSION).mkdir(parents=True)
  (base / OLD_VERSION / 'saved_model.pb').write_bytes(b'old graph')
  return model, str(base), tmp_path


def _blessing(kind, blessed):
  artifact = kind()
  artifact.set_int_custom_property('blessed', int(blessed))
  return artifact


def _push(model, base, tmp_path, model_blessed=True, infra_blessed=True):
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / f'pushed-{len(os.listdir(tmp_path))}')
  component = AtomicPusher(
      model=tfx.dsl.Channel(type=standard_artifacts.Model),
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=base)))
  executor.Executor().Do(
      {'model': [model],
       'model_blessing': [_blessing(standard_artifacts.ModelBlessing,
                                    model_blessed)],
       'infra_blessing': [_blessing(standard_artifacts.InfraBlessing,
                                    infra_blessed)]},
      {'pushed_model': [pushed]}, dict(component.exec_properties))
  return pushed


def test_push_adds_exactly_one_newer_version_and_keeps_the_old(layout):
  model, base, tmp_path = layout
  pushed = _push(model, base, tmp_path)
  versions = _integer_dirs(base)
  assert len(versions) == 2 and versions[0] == OLD_VERSION
  new = os.path.join(base, versions[1])
  assert sorted(os.listdir(new)) == [executor.FINGERPRINT_FILE,
                                     'model_card.json', 'saved_model.pb',
                                     'variables']
  assert open(os.path.join(base, OLD_VERSION, 'saved_model.pb'),
              'rb').read() == b'old graph'
  assert sorted(os.listdir(base)) == versions  # No staging folder left.
  assert pushed.get_int_custom_property('pushed') == 1
  assert pushed.get_string_custom_property('pushed_destination') == new
  assert pushed.get_string_custom_property('pushed_version') == versions[1]


def test_pushes_in_the_same_second_get_increasing_versions(layout):
  model, base, tmp_path = layout
  first = _push(model, base, tmp_path)
  with open(os.path.join(model.uri, 'Format-Serving',
                         executor.FINGERPRINT_FILE), 'wb') as f:
    f.write(b'retrained model')
  second = _push(model, base, tmp_path)
  first_version = int(first.get_string_custom_property('pushed_version'))
  second_version = int(second.get_string_custom_property('pushed_version'))
  assert second_version > first_version > int(OLD_VERSION)
  assert len(_integer_dirs(base)) == 3


def test_model_already_served_as_newest_is_not_published_again(layout):
  """A rerun re-blessing the cached model must not make TF Serving reload."""
  model, base, tmp_path = layout
  first = _push(model, base, tmp_path)
  again = _push(model, base, tmp_path)
  assert len(_integer_dirs(base)) == 2
  assert again.get_int_custom_property('pushed') == 1
  for name in ('pushed_destination', 'pushed_version'):
    assert (again.get_string_custom_property(name) ==
            first.get_string_custom_property(name))


def test_version_is_above_a_future_one(layout):
  """A version from a clock ahead of ours still sorts below the new push."""
  model, base, tmp_path = layout
  future = 10 ** 11
  os.makedirs(os.path.join(base, str(future)))
  pushed = _push(model, base, tmp_path)
  assert int(pushed.get_string_custom_property('pushed_version')) == future + 1


def test_copy_failing_midway_leaves_no_version(layout, monkeypatch):
  """TF Serving polls during the copy: no new integer folder, ever."""
  model, base, tmp_path = layout
  real_copy = fileio.copy
  seen_during_copy = []

  def copy_then_fail(src, dst, overwrite=False):
    seen_during_copy.append(_integer_dirs(base))
    if len(seen_during_copy) == 3:
      raise OSError('disk full')
    real_copy(src, dst, overwrite)

  monkeypatch.setattr(fileio, 'copy', copy_then_fail)
  with pytest.raises(OSError, match='disk full'):
    _push(model, base, tmp_path)
  assert seen_during_copy == [[OLD_VERSION]] * 3
  assert sorted(os.listdir(base)) == [OLD_VERSION]


def test_staging_folder_is_invisible_to_tf_serving(layout, monkeypatch):
  """Mid-copy the files sit in a folder whose name is not an integer."""
  model, base, tmp_path = layout
  real_copy = fileio.copy
  staging = set()

  def recording_copy(src, dst, overwrite=False):
    if dst.startswith(base):  # Not the archive copy with the artifact.
      staging.add(os.path.relpath(dst, base).split(os.sep)[0])
    real_copy(src, dst, overwrite)

  monkeypatch.setattr(fileio, 'copy', recording_copy)
  _push(model, base, tmp_path)
  assert len(staging) == 1
  name = staging.pop()
  assert name.startswith(executor.STAGING_PREFIX) and not name.isdigit()


@pytest.mark.parametrize('model_blessed,infra_blessed', [(False, True),
                                                         (True, False)])
def test_unblessed_model_is_not_pushed(layout, model_blessed, infra_blessed):
  model, base, tmp_path = layout
  pushed = _push(model, base, tmp_path, model_blessed, infra_blessed)
  assert pushed.get_int_custom_property('pushed') == 0
  assert sorted(os.listdir(base)) == [OLD_VERSION]


def test_component_keeps_pusher_interface():
  component = AtomicPusher(
      model=tfx.dsl.Channel(type=standard_artifacts.Model),
      infra_blessing=tfx.dsl.Channel(type=standard_artifacts.InfraBlessing),
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory='/models/x')))
  assert component.executor_spec.executor_class is executor.Executor
  assert json.loads(component.exec_properties['push_destination'])[
      'filesystem']['base_directory'] == '/models/x'
  assert 'pushed_model' in component.outputs
