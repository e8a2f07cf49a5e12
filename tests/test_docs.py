"""The README's Configuration table matches the option table the code reads."""

import argparse
import pathlib
import re

from pipeline import options

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'


def _configuration_rows():
  text = README.read_text(encoding='utf-8')
  section = text.split('## Configuration\n', 1)[1].split('\n## ', 1)[0]
  rows = {}
  for line in section.splitlines():
    cells = [c.strip() for c in line.strip().strip('|').split('|')]
    if len(cells) == 4 and cells[0].startswith('`--'):
      rows[cells[0].strip('`')] = [c.strip('`') for c in cells[1:3]]
  return rows


def test_every_option_is_documented_with_its_variable_and_default():
  rows = _configuration_rows()
  assert set(rows) == {option.flag for option in options.OPTIONS}
  for option in options.OPTIONS:
    assert rows[option.flag] == [option.env, option.default_text], option.flag


def test_help_shows_the_documented_default():
  parser = argparse.ArgumentParser()
  options.add_flags(parser, options.ALL_FIELDS)
  helps = {a.option_strings[0]: a.help for a in parser._actions
           if a.option_strings and a.option_strings[0].startswith('--')}
  for flag, (env, default) in _configuration_rows().items():
    assert re.search(rf'\(\${env}; default: {re.escape(default)}\)$',
                     helps[flag]), flag
