"""Validation of meta/esc50.csv and class selection."""

import pytest

from data import esc50_classes
from data import esc50_csv

HEADER = 'filename,fold,target,category,esc10,src_file,take\n'
GOOD = ('1-100-A-0.wav,1,0,dog,True,100,A\n'
        '2-200-A-5.wav,2,5,cat,False,200,A\n')


def test_parses_rows():
  rows = esc50_csv.parse_esc50_csv(HEADER + GOOD)
  assert [r.category for r in rows] == ['dog', 'cat']
  assert rows[0].fold == 1 and rows[0].target == 0 and rows[0].esc10
  assert rows[1].clip_id == '2-200-A-5'


@pytest.mark.parametrize('text, message', [
    ('filename,fold,target,category\n1.wav,1,0,dog\n', 'missing column'),
    (HEADER, 'lists no clips'),
    (HEADER + '1-100-A-0.wav,x,0,dog,True,100,A\n', "row 2, column 'fold'"),
    (HEADER + '1-100-A-0.wav,6,0,dog,True,100,A\n', 'outside 1-5'),
    (HEADER + '1-100-A-0.wav,0,0,dog,True,100,A\n', 'outside 1-5'),
    (HEADER + '1-100-A-0.wav,1,3,dog,True,100,A\n', 'does not match category'),
    (HEADER + '1-100-A-0.wav,1,0,wolf,True,100,A\n', "unknown ESC-50 class"),
    (HEADER + GOOD + '1-100-A-0.wav,3,0,dog,True,100,A\n',
     'row 4: duplicate filename'),
    (HEADER + '../secret.wav,1,0,dog,True,100,A\n', 'plain file name'),
    (HEADER + '/etc/passwd,1,0,dog,True,100,A\n', 'plain file name'),
    (HEADER + 'sub/1.wav,1,0,dog,True,100,A\n', 'plain file name'),
    (HEADER + '1-100-A-0.wav,1,0,dog,maybe,100,A\n', "column 'esc10'"),
    (HEADER + '1-100-A-0.wav,1,,dog,True,100,A\n', 'empty value'),
])
def test_rejects_bad_csv_naming_row_and_column(text, message):
  with pytest.raises(esc50_csv.Esc50CsvError, match=message):
    esc50_csv.parse_esc50_csv(text)


def test_renamed_column_is_named():
  text = HEADER.replace('category', 'label') + GOOD
  with pytest.raises(esc50_csv.Esc50CsvError, match=r"\['category'\]"):
    esc50_csv.parse_esc50_csv(text)


def test_read_from_missing_root_fails_clearly(tmp_path):
  with pytest.raises(esc50_csv.Esc50CsvError, match='not a readable directory'):
    esc50_csv.read_esc50_csv(str(tmp_path / 'nowhere'))
  with pytest.raises(esc50_csv.Esc50CsvError, match='meta/esc50.csv'):
    esc50_csv.read_esc50_csv(str(tmp_path))


def test_select_classes_requires_clips_of_each_class():
  rows = esc50_csv.parse_esc50_csv(HEADER + GOOD)
  assert len(esc50_csv.select_classes(rows, ['dog'])) == 1
  with pytest.raises(esc50_csv.Esc50CsvError, match='rooster'):
    esc50_csv.select_classes(rows, ['dog', 'rooster'])


def test_parse_classes():
  assert esc50_classes.parse_classes('dog, cat') == ['dog', 'cat']
  assert len(esc50_classes.parse_classes('all')) == 50
  assert esc50_classes.parse_classes('esc10')[0] == 'dog'
  assert len(esc50_classes.parse_classes('ESC10')) == 10
  with pytest.raises(ValueError, match='Valid classes: dog, rooster'):
    esc50_classes.parse_classes('dog,wolf')
  with pytest.raises(ValueError, match='at least two'):
    esc50_classes.parse_classes('dog')
  with pytest.raises(ValueError, match='more than once'):
    esc50_classes.parse_classes('dog,dog')
