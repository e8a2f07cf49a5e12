"""The summary of a pipeline run, read back from MLMD.

Everything shown is what the orchestrator recorded (execution states and
times, artifact properties, TFMA results), so the summary is the same whether
a component ran or was served from cache. `RunSummary.to_json()` gives the
documented JSON (`yamnet-pipeline run --summary-json`).
"""

import dataclasses
import json
from typing import Any, Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_component_specs as keys

from components import artifact_properties as properties
from components import span_reuse
from components.yamnet_embedding import executor as embedding_gen
from pipeline import evaluation_results
from pipeline import mlmd_runs
from pipeline import nodes
from serving import tflite_check


@dataclasses.dataclass(frozen=True)
class ComponentRun:
  status: str
  seconds: float


@dataclasses.dataclass(frozen=True)
class Clips:
  """Clip counts: listed = embedded + reused + quarantined (decoding +
  embedding); embedded counts only clips this run embedded, reused those
  whose embeddings an earlier run made (a cached step reuses them all)."""
  listed: Optional[int] = None
  embedded: Optional[int] = None
  reused: Optional[int] = None
  quarantined: Optional[int] = None
  patches: Optional[int] = None
  quarantined_decoding: Optional[int] = None
  quarantined_embedding: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Dataset:
  """What the run read: the data root, its layout(s), the classes chosen
  (`all` resolved) and the files skipped as not audio or hidden."""
  root: Optional[str] = None
  layouts: List[str] = dataclasses.field(default_factory=list)
  classes: List[str] = dataclasses.field(default_factory=list)
  files_ignored: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Spans:
  """The spans trained on (the window), those this run embedded, and those
  embedded again because their files changed since an earlier run."""
  trained_on: List[int] = dataclasses.field(default_factory=list)
  embedded: List[int] = dataclasses.field(default_factory=list)
  changed: List[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class YamnetUsed:
  handle: Optional[str]
  fingerprint: Optional[str]


@dataclasses.dataclass(frozen=True)
class ConfusionMatrix:
  """Test clips per [actual][predicted] class."""
  classes: List[str]
  matrix: List[List[int]]


@dataclasses.dataclass(frozen=True)
class ServingCheck:
  passed: bool
  reason: Optional[str]


@dataclasses.dataclass(frozen=True)
class RunSummary:
  """One run: each component's status and time, the data, the gate, the push."""
  pipeline: str
  run_id: str
  status: str
  components: Dict[str, ComponentRun]
  clips: Clips = Clips()
  dataset: Dataset = Dataset()
  spans: Spans = Spans()
  # The gate's clip-level metrics: overall, and per category slice.
  metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
  per_class_metrics: Dict[str, Dict[str, float]] = dataclasses.field(
      default_factory=dict)
  patch_metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
  confusion_matrix: Optional[ConfusionMatrix] = None
  per_class_precision_recall: Dict[str, Dict[str, Any]] = dataclasses.field(
      default_factory=dict)
  blessed: Optional[bool] = None
  blessing_reason: Optional[str] = None
  serving_check: Optional[ServingCheck] = None
  pushed: bool = False
  pushed_path: Optional[str] = None
  # The TFLite variants' checks; those passed were pushed with the model.
  tflite: List[tflite_check.Check] = dataclasses.field(default_factory=list)
  yamnet: Optional[YamnetUsed] = None
  report_path: Optional[str] = None
  # Why the run failed, when it did.
  error: Optional[str] = None

  def to_json(self) -> Dict[str, Any]:
    facts = dataclasses.asdict(self)
    if facts['error'] is None:
      del facts['error']
    return facts


def _embedding_ran(run: mlmd_runs.Run) -> bool:
  facts = run.nodes.get(nodes.EMBEDDING_GEN)
  return facts is not None and facts.status != 'cached'


def _clips(run: mlmd_runs.Run) -> Clips:
  examples = run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  embeddings = run.single(nodes.EMBEDDING_GEN, embedding_gen.EMBEDDINGS_KEY)
  listed = mlmd_runs.int_property(examples, properties.CLIPS_LISTED)
  decoding = mlmd_runs.int_property(examples, properties.CLIPS_QUARANTINED)
  if embeddings is None:
    return Clips(listed=listed, quarantined_decoding=decoding)
  embedding = mlmd_runs.int_property(embeddings, properties.CLIPS_QUARANTINED)
  embedded = mlmd_runs.int_property(embeddings, properties.CLIPS_EMBEDDED)
  reused = mlmd_runs.int_property(embeddings, properties.CLIPS_REUSED) or 0
  if not _embedding_ran(run):
    embedded, reused = 0, (embedded or 0) + reused
  return Clips(
      listed=listed, embedded=embedded, reused=reused,
      quarantined=(decoding or 0) + (embedding or 0),
      patches=mlmd_runs.int_property(embeddings, properties.PATCHES),
      quarantined_decoding=decoding, quarantined_embedding=embedding)


def _spans(run: mlmd_runs.Run) -> Spans:
  embeddings = run.single(nodes.EMBEDDING_GEN, embedding_gen.EMBEDDINGS_KEY)
  table = mlmd_runs.json_property(embeddings, properties.EMBEDDED_SPANS)
  if not table:
    return Spans()
  plan = mlmd_runs.json_property(embeddings, span_reuse.PLAN_KEY)
  ran = _embedding_ran(run)
  return Spans(
      trained_on=[entry['span'] for entry in table],
      embedded=[entry['span'] for entry in table
                if ran and str(entry['span']) not in plan['reuse']],
      changed=plan['changed'] if ran else [])


def _dataset(run: mlmd_runs.Run) -> Dataset:
  examples = run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  facts = mlmd_runs.json_property(examples, properties.DATASET) or {}
  return Dataset(
      root=facts.get('root'), layouts=facts.get('layouts', []),
      classes=mlmd_runs.json_property(examples, properties.CLASSES) or [],
      files_ignored=facts.get('files_ignored'))


def _yamnet(run: mlmd_runs.Run) -> Optional[YamnetUsed]:
  embeddings = run.single(nodes.EMBEDDING_GEN, embedding_gen.EMBEDDINGS_KEY)
  if embeddings is None:
    return None
  return YamnetUsed(
      handle=mlmd_runs.string_property(embeddings, properties.YAMNET_HANDLE),
      fingerprint=mlmd_runs.string_property(embeddings,
                                            properties.YAMNET_FINGERPRINT))


def _gate(run: mlmd_runs.Run) -> Dict[str, Any]:
  """The gate's verdict, metrics and confusion matrix, as summary fields."""
  facts: Dict[str, Any] = {}
  blessing = run.single(nodes.EVALUATOR, keys.BLESSING_KEY)
  if blessing is not None:
    facts['blessed'] = bool(mlmd_runs.int_property(blessing,
                                                   properties.BLESSED))
  evaluation = run.single(nodes.EVALUATOR, keys.EVALUATION_KEY)
  if evaluation is not None:
    by_slice = evaluation_results.metrics_by_slice(evaluation.uri)
    facts['metrics'] = by_slice.pop('overall', {})
    facts['per_class_metrics'] = by_slice
    facts['blessing_reason'] = evaluation_results.gate_reason(evaluation.uri)
  patches = run.single(nodes.PATCH_EVALUATOR, keys.EVALUATION_KEY)
  if patches is not None:
    facts['patch_metrics'] = evaluation_results.metrics_by_slice(
        patches.uri).get('overall', {})
  model = run.single(nodes.TRAINER, keys.MODEL_KEY)
  if model is not None and evaluation is not None:
    classes = evaluation_results.model_class_names(model.uri)
    matrix = evaluation_results.confusion_matrix(evaluation.uri, len(classes))
    if matrix is not None:
      facts['confusion_matrix'] = ConfusionMatrix(classes, matrix.tolist())
      facts['per_class_precision_recall'] = (
          evaluation_results.per_class_metrics(matrix, classes)['per_class'])
  return facts


def _push(run: mlmd_runs.Run) -> Dict[str, Any]:
  facts: Dict[str, Any] = {}
  check = run.single(nodes.SERVING_VALIDATOR, keys.BLESSING_KEY)
  if check is not None:
    facts['serving_check'] = ServingCheck(
        passed=bool(mlmd_runs.int_property(check, properties.BLESSED)),
        reason=mlmd_runs.string_property(check, properties.REASON))
  pushed = run.single(nodes.PUSHER, keys.PUSHED_MODEL_KEY)
  if pushed is not None:
    facts['pushed'] = bool(mlmd_runs.int_property(pushed, properties.PUSHED))
    facts['pushed_path'] = mlmd_runs.string_property(
        pushed, properties.PUSHED_DESTINATION)
    facts['tflite'] = tflite_check.parse_checks(json.loads(
        mlmd_runs.string_property(pushed, properties.TFLITE) or '[]'))
  return facts


def summarize(run: mlmd_runs.Run) -> RunSummary:
  """The summary of a run read back from MLMD."""
  components = {node: ComponentRun(status=facts.status, seconds=facts.seconds)
                for node, facts in run.nodes.items()}
  failed = any(c.status == 'failed' for c in components.values())
  return RunSummary(
      pipeline=run.pipeline, run_id=run.run_id,
      status='failed' if failed else 'complete', components=components,
      clips=_clips(run), dataset=_dataset(run), spans=_spans(run),
      yamnet=_yamnet(run),
      **_gate(run), **_push(run))


def collect_summary(connection_config: metadata_store_pb2.ConnectionConfig,
                    pipeline_name: str) -> RunSummary:
  """The summary of the latest run of `pipeline_name`."""
  return summarize(mlmd_runs.latest_run(connection_config, pipeline_name))


def format_summary(summary: RunSummary) -> str:
  """A human-readable table of the summary."""
  lines = [f'Pipeline {summary.pipeline} run {summary.run_id}: '
           f'{summary.status}', '']
  for name in sorted(summary.components, key=nodes.order_key):
    facts = summary.components[name]
    lines.append(f'  {name:32s} {facts.status:9s} {facts.seconds:8.1f} s')
  dataset = summary.dataset
  if dataset.root is not None:
    lines += ['', f"Dataset: {dataset.root} ({', '.join(dataset.layouts)} "
                  f'layout; {len(dataset.classes)} classes: '
                  f"{', '.join(dataset.classes)}; {dataset.files_ignored} "
                  'files ignored)']
  clips = summary.clips
  if clips.listed is not None:
    lines += ['', f'Clips: {clips.listed} listed, {clips.embedded} embedded, '
                  f'{clips.reused} reused, {clips.quarantined} quarantined '
                  f'({clips.patches} patches)']
  spans = summary.spans
  if spans.trained_on:
    lines.append(f'Spans: trained on {spans.trained_on}, embedded by this '
                 f'run {spans.embedded}')
  if spans.changed:
    lines.append(f'Warning: span(s) {spans.changed} changed since an earlier '
                 'run embedded them, and were embedded again')
  for label, metrics in (('Test clips (the gate)', summary.metrics),
                         ('Test patches', summary.patch_metrics)):
    if metrics:
      lines.append(f'{label}: ' + ', '.join(
          f'{name}={value:.4f}' for name, value in sorted(metrics.items())))
  if summary.blessed is not None:
    lines.append(f"Blessed: {'yes' if summary.blessed else 'no'} "
                 f'({summary.blessing_reason})')
  check = summary.serving_check
  if check:
    lines.append(f"Serving check: {'passed' if check.passed else 'failed'} "
                 f'({check.reason})')
  lines.append(f"Pushed: {summary.pushed_path if summary.pushed else 'no'}")
  for check in summary.tflite:
    lines.append(f"  TFLite {check.variant}: "
                 f"{'pushed' if check.passed else 'withheld'} "
                 f'({check.size_bytes / 1e6:.1f} MB; {check.reason})')
  if summary.report_path:
    lines.append(f'Report: {summary.report_path}')
  return '\n'.join(lines)


def write_summary_json(summary: RunSummary, path: Optional[str]) -> None:
  if path:
    with open(path, 'w', encoding='utf-8') as f:
      json.dump(summary.to_json(), f, indent=2, sort_keys=True)
