"""Executor of Esc50ExampleGen: a dataset's clips -> clip Examples per fold.

The dataset is either layout of data/datasets.py, in one or more spans; each
span's clips are written to files of their own in each fold's split
(`span-<N>-...`), so a later run can tell them apart.
"""

import json
import logging
from typing import Any, Dict, List

import apache_beam as beam
import numpy as np
from tfx import types
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import artifact_properties as properties
from components import examples_io
from data import record_files
from components import quarantine
from components import span_reuse
from components import splits
from components.esc50_example_gen import spans
from data import audio
from data import clip_examples
from data import datasets
from data import esc50_csv

CLASSES_KEY = 'classes'
MAX_QUARANTINE_FRACTION_KEY = 'max_quarantine_fraction'
SPAN_WINDOW_KEY = 'span_window'
# The span table (components/esc50_example_gen/spans.py), set by the driver
# with the reuse plan (span_reuse.PLAN_KEY); computed here when no driver ran,
# as on Kubeflow.
SPANS_KEY = 'spans'
QUARANTINE_KEY = span_reuse.QUARANTINE_KEY


_METRICS_NAMESPACE = 'esc50_example_gen'
_LOG_EVERY = 200


def usable_waveform(samples: np.ndarray, sample_rate: int) -> np.ndarray:
  """16 kHz mono audio of a decoded clip; raises if it cannot be trained on."""
  waveform = audio.to_mono_16k(samples, sample_rate)
  if not np.any(waveform):
    raise audio.AudioDecodeError('digital silence: every sample is zero')
  return waveform


class DecodeClipFn(beam.DoFn):
  """Reads and decodes one listed clip; unusable clips go to quarantine."""

  QUARANTINE_TAG = 'quarantine'

  def __init__(self, span: int, span_root: str):
    super().__init__()
    self._span = span
    self._span_root = span_root
    self._decoded = beam.metrics.Metrics.counter(_METRICS_NAMESPACE,
                                                 'clips_decoded')
    self._quarantined = beam.metrics.Metrics.counter(_METRICS_NAMESPACE,
                                                     'clips_quarantined')
    self._seen = 0

  def process(self, row: esc50_csv.ClipRow):
    self._seen += 1
    if self._seen % _LOG_EVERY == 0:
      logging.info('Esc50ExampleGen: %d clips read by this worker', self._seen)
    try:
      samples, sample_rate = audio.read_audio(
          datasets.audio_path(self._span_root, row))
      waveform = usable_waveform(samples, sample_rate)
    except audio.AudioDecodeError as error:
      self._quarantined.inc()
      yield beam.pvalue.TaggedOutput(self.QUARANTINE_TAG, quarantine.record(
          row.clip_id, row.filename, row.fold, row.category, self._span,
          str(error)))
      return
    self._decoded.inc()
    yield clip_examples.clip_example(row, waveform, sample_rate,
                                     samples.shape[1])


@beam.ptransform_fn
def WriteClips(clips: beam.PCollection, file_prefix: str) -> beam.pvalue.PDone:  # pylint: disable=invalid-name
  """Writes clip Examples as TFX's ExampleGen lays them out, without a shuffle.

  TFX's WriteSplit reshuffles the serialized Examples before writing. On
  Beam 2.59's DirectRunner in multi_threading mode, a Reshuffle of elements
  this large (about 320 KB) drops a few of them without an error
  (scripts/beam_multithreading_loss.py reproduces it); the order of clips
  does not matter downstream, so the shuffle is left out. Files are
  uncompressed TFRecords (`data/record_files.py` says why).
  """
  return (clips
          | 'Serialize' >> beam.Map(lambda clip: clip.SerializeToString())
          | 'Write' >> beam.io.WriteToTFRecord(file_prefix))


def _table_and_plan(exec_properties: Dict[str, Any]):
  """The driver's span table and reuse plan; without a driver (Kubeflow),
  the table computed now and nothing reused."""
  if exec_properties.get(SPANS_KEY):
    return (json.loads(exec_properties[SPANS_KEY]),
            json.loads(exec_properties[span_reuse.PLAN_KEY]))
  return spans.span_table(
      exec_properties[standard_component_specs.INPUT_BASE_KEY],
      int(exec_properties.get(SPAN_WINDOW_KEY) or 0),
      json.loads(exec_properties[CLASSES_KEY])), span_reuse.NO_PLAN


class Executor(base_beam_executor.BaseBeamExecutor):
  """Validates the dataset up front, then decodes the chosen classes' clips;
  spans an earlier run decoded are copied from its output instead."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    data_root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    table, plan = _table_and_plan(exec_properties)
    clips, read = spans.list_clips(data_root, table)
    rows = [row for _, _, row in clips]
    reused = span_reuse.reused_spans(plan)
    logging.info('Esc50ExampleGen: %d clips in %d span(s) of %s; spans %s '
                 'copied from earlier runs', len(rows), len(table), data_root,
                 sorted(reused) or 'none')
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    quarantine_uri = artifact_utils.get_single_uri(output_dict[QUARANTINE_KEY])
    examples.split_names = artifact_utils.encode_split_names(
        list(splits.ALL_FOLD_SPLITS))
    _, earlier_quarantine = span_reuse.copy_reused(
        plan, standard_component_specs.EXAMPLES_KEY, examples,
        list(splits.ALL_FOLD_SPLITS))
    self._decode([c for c in clips if c[0] not in reused], earlier_quarantine,
                 examples, quarantine_uri)

    examples_utils.set_payload_format(
        examples, exec_properties[
            standard_component_specs.OUTPUT_DATA_FORMAT_KEY])
    examples_utils.set_file_format(
        examples, write_split.to_file_format_str(
            exec_properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY]))
    quarantined = quarantine.read_quarantine(quarantine_uri)
    check_every_clip_written(examples, rows, quarantined)
    _record(examples, data_root, table, plan, clips, read, quarantined)
    logging.info('Esc50ExampleGen: %d clips listed, %d decoded, %d quarantined',
                 len(rows), len(rows) - len(quarantined), len(quarantined))
    check_quarantine_fraction(
        quarantined, len(rows),
        float(exec_properties[MAX_QUARANTINE_FRACTION_KEY]), quarantine_uri)

  def _decode(self, clips: List[spans.ListedClip],
              earlier_quarantine: List[Dict[str, Any]],
              examples: types.Artifact, quarantine_uri: str):
    """One Beam branch per (fold, span): each span's files stay its own."""
    with self._make_beam_pipeline() as pipeline:
      quarantined = [pipeline | 'EarlierQuarantine' >> beam.Create(
          earlier_quarantine)]
      for split_name in splits.ALL_FOLD_SPLITS:
        fold = splits.fold_of_split(split_name)
        split_uri = artifact_utils.get_split_uri([examples], split_name)
        for span, root in sorted({(s, r) for s, r, _ in clips}):
          label = f'{split_name}, span {span}'
          decoded = (
              pipeline
              | f'ListClips[{label}]' >> beam.Create(
                  [row for s, _, row in clips if s == span and row.fold == fold])
              | f'Spread[{label}]' >> beam.Reshuffle()
              | f'Decode[{label}]' >> beam.ParDo(
                  DecodeClipFn(span, root)).with_outputs(
                      DecodeClipFn.QUARANTINE_TAG, main='examples'))
          _ = decoded.examples | f'WriteSplit[{label}]' >> WriteClips(
              examples_io.span_file_prefix(split_uri, span))
          quarantined.append(decoded[DecodeClipFn.QUARANTINE_TAG])
      _ = (quarantined
           | 'MergeQuarantine' >> beam.Flatten()
           | 'WriteQuarantine' >> quarantine.WriteQuarantine(quarantine_uri))


def _record(examples: types.Artifact, data_root: str, table, plan,
            clips: List[spans.ListedClip], read: List[datasets.Dataset],
            quarantined: List[Dict[str, Any]]) -> None:
  """What the output holds, for the summary and for later runs' reuse."""
  examples.set_int_custom_property(properties.CLIPS_LISTED, len(clips))
  examples.set_int_custom_property(properties.CLIPS_QUARANTINED,
                                   len(quarantined))
  per_span = {entry['span']: 0 for entry in table}
  for span, _, _ in clips:
    per_span[span] += 1
  for record in quarantined:
    per_span[record['span']] -= 1
  for name, value in (
      (properties.CLASSES, spans.classes_of(table)),
      (properties.DATASET, {
          'root': data_root, 'layouts': sorted({d.layout for d in read}),
          'files_ignored': sum(d.files_ignored for d in read)}),
      (properties.SPANS, table), (span_reuse.PLAN_KEY, plan),
      (properties.SPAN_CLIPS, {str(k): v for k, v in per_span.items()})):
    examples.set_string_custom_property(name, json.dumps(value, sort_keys=True))


def check_every_clip_written(examples: types.Artifact,
                             rows: List[esc50_csv.ClipRow],
                             quarantined: List[Dict[str, Any]]) -> None:
  """Each fold's split holds its listed clips less the quarantined ones."""
  expected = {}
  for split_name in splits.ALL_FOLD_SPLITS:
    fold = splits.fold_of_split(split_name)
    expected[split_name] = (sum(1 for row in rows if row.fold == fold) -
                            sum(1 for r in quarantined if r['fold'] == fold))
  written = {split_name: record_files.count_records(
      examples_io.split_files(examples, [split_name]))
             for split_name in splits.ALL_FOLD_SPLITS}
  examples_io.check_written('Esc50ExampleGen', 'clips', written, expected)


def check_quarantine_fraction(quarantined: List[Dict[str, Any]], listed: int,
                              limit: float, quarantine_uri: str) -> None:
  """Fails the run when too many clips are unusable to trust the dataset."""
  if quarantined and len(quarantined) > limit * listed:
    first = '; '.join(f"{r['filename']}: {r['reason']}"
                      for r in quarantined[:5])
    raise RuntimeError(
        f'{len(quarantined)} of {listed} clips could not be used (more than '
        f'the allowed fraction {limit:g}); see '
        f'{quarantine.quarantine_path(quarantine_uri)}. First: {first}')
