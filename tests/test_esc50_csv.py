"""Validation of meta/esc50.csv and class selection."""

import pytest

from data import datasets
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
    ('filename,fold,category\n1.wav,1,dog\n', r"missing column\(s\) \['target'\]"),
    (HEADER, 'lists no clips'),
    (HEADER + '1-100-A-0.wav,x,0,dog,True,100,A\n', "row 2, column 'fold'"),
    (HEADER + '1-100-A-0.wav,6,0,dog,True,100,A\n', 'outside 1-5'),
    (HEADER + '1-100-A-0.wav,0,0,dog,True,100,A\n', 'outside 1-5'),
    (HEADER + '1-100-A-0.wav,1,3,dog,True,100,A\n', 'does not match category'),
    (HEADER + GOOD + '3-300-A-0.wav,3,0,wolf,False,300,A\n',
     "row 4: target 0 names 'wolf', but 'dog' on an earlier row"),
    ('filename,target,category\nw1.wav,7,wolf\nw2.wav,8,wolf\n',
     "row 3: category 'wolf' has target 8, but 7"),
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


def test_a_users_csv_with_new_classes_and_no_fold_column():
  text = ('filename,target,category\n'
          'kettle-01-A.wav,0,kettle\nkettle-01-B.wav,0,kettle\n'
          'kettle-02-A.wav,0,kettle\ndoorbell-7.wav,1,doorbell\n')
  rows = esc50_csv.parse_esc50_csv(text)
  assert [r.category for r in rows] == ['kettle'] * 3 + ['doorbell']
  assert all(1 <= r.fold <= 5 for r in rows)
  # Two takes of one recording share a fold.
  assert rows[0].fold == rows[1].fold
  assert [r.path for r in rows][0] == 'audio/kettle-01-A.wav'
  assert not rows[0].esc10 and rows[0].src_file == '' and rows[0].take == ''


def test_src_file_decides_the_fold_when_there_is_no_fold_column():
  text = ('filename,target,category,src_file\n'
          'a.wav,0,kettle,rec1\nb.wav,0,kettle,rec1\nc.wav,1,bell,rec1\n')
  assert len({r.fold for r in esc50_csv.parse_esc50_csv(text)}) == 1


def test_a_csv_saved_by_a_spreadsheet_reads_the_same():
  plain = esc50_csv.parse_esc50_csv(HEADER + GOOD)
  saved = '\ufeff' + (HEADER + GOOD).replace('\n', '\r\n')
  assert esc50_csv.parse_esc50_csv(saved) == plain


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
  assert len(datasets.select(rows, ['dog'])) == 1
  with pytest.raises(datasets.DatasetError,
                     match='rooster not in the dataset. Its classes: dog'):
    datasets.resolve_classes(datasets.class_order(
        {r.category for r in rows}), ['dog', 'rooster'])


def test_parse_classes():
  assert esc50_classes.parse_classes('dog, cat') == ['dog', 'cat']
  assert esc50_classes.parse_classes('all') == ['all']
  assert esc50_classes.parse_classes('esc10')[0] == 'dog'
  assert len(esc50_classes.parse_classes('ESC10')) == 10
  # A user's own class names pass; the dataset decides what exists.
  assert esc50_classes.parse_classes('dog,wolf') == ['dog', 'wolf']
  with pytest.raises(ValueError, match='at least two'):
    esc50_classes.parse_classes('dog')
  with pytest.raises(ValueError, match='more than once'):
    esc50_classes.parse_classes('dog,dog')
