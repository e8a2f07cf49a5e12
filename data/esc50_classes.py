"""The ESC-50 class catalogue and class-list parsing.

ESC-50 numbers its 50 categories 0-49 (`target`); ESC-10 is the 10-class subset
flagged by the `esc10` column. Users pick classes by name (ESC-50's or their
own dataset's), `all` or `esc10`.
"""

from typing import List, Sequence

# Ordered by ESC-50 `target`.
ESC50_CLASSES = (
    'dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep',
    'crow', 'rain', 'sea_waves', 'crackling_fire', 'crickets', 'chirping_birds',
    'water_drops', 'wind', 'pouring_water', 'toilet_flush', 'thunderstorm',
    'crying_baby', 'sneezing', 'clapping', 'breathing', 'coughing', 'footsteps',
    'laughing', 'brushing_teeth', 'snoring', 'drinking_sipping',
    'door_wood_knock', 'mouse_click', 'keyboard_typing', 'door_wood_creaks',
    'can_opening', 'washing_machine', 'vacuum_cleaner', 'clock_alarm',
    'clock_tick', 'glass_breaking', 'helicopter', 'chainsaw', 'siren',
    'car_horn', 'engine', 'train', 'church_bells', 'airplane', 'fireworks',
    'hand_saw')

ESC10_CLASSES = ('dog', 'rooster', 'rain', 'sea_waves', 'crackling_fire',
                 'crying_baby', 'sneezing', 'clock_tick', 'helicopter',
                 'chainsaw')

DEFAULT_CLASSES = ('dog', 'cat')


def target_of(category: str) -> int:
  """ESC-50 `target` number of a category name."""
  return ESC50_CLASSES.index(category)


def parse_classes(spec: str | Sequence[str]) -> List[str]:
  """Turns `all`, `esc10` or a comma-separated list into class names.

  `all` stays ['all'] (every class the dataset holds, known once it is read);
  `esc10` is ESC-10's ten. Any other names are the dataset's to check, so a
  user's own classes pass here. Raises ValueError on fewer than two names or
  a repeated one, so a typo never silently trains on fewer classes.
  """
  if isinstance(spec, str):
    names = [name.strip() for name in spec.split(',') if name.strip()]
  else:
    names = [str(name).strip() for name in spec]
  if [name.lower() for name in names] == ['all']:
    return ['all']
  if [name.lower() for name in names] == ['esc10']:
    return list(ESC10_CLASSES)
  if len(names) < 2:
    raise ValueError(
        f'Choose at least two classes (got {names!r}); use a comma-separated '
        'list, "esc10" or "all".')
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise ValueError(f'Class(es) listed more than once: {", ".join(repeated)}')
  return names
