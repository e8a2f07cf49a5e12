"""A self-contained HTML report of one pipeline run, written beside its outputs.

One file with inline CSS and SVG and no scripts, fonts or links to fetch, so it
opens the same from a laptop, a CI artifact store or an offline machine. It
shows only what the run recorded: MLMD (summary and output artifacts), the
clips ExampleGen wrote and quarantined, the Trainer's TensorBoard logs, and
what the Evaluators computed (clip level with the served computation, and
patch level).
"""

import collections
import datetime
import html
import math
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_component_specs as keys

from components import examples_io
from components import quarantine
from components import splits
from components.esc50_example_gen import executor as example_gen
from components.yamnet_embedding import executor as embedding_gen
from data import clip_examples
from data import record_files
from models import hyperparameters as hp
from pipeline import configs
from pipeline import evaluation_results
from pipeline import mlmd_runs
from pipeline import nodes
from pipeline import run_summary

REPORT_FILE = 'report.html'
REPORTS_DIR = 'reports'
_PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728')
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
th { background: #f4f4f4; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #c62828; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
svg { background: #fff; border: 1px solid #eee; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""


def _e(value: Any) -> str:
  return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]],
           text_columns: Sequence[int] = ()) -> str:
  head = ''.join(f'<th>{_e(h)}</th>' for h in header)
  body = ''.join(
      '<tr>' + ''.join(
          f'<td class="text">{_e(v)}</td>' if i in text_columns else
          f'<td>{_e(v)}</td>' for i, v in enumerate(row)) + '</tr>'
      for row in rows)
  return f'<table><tr>{head}</tr>{body}</table>'


def _fmt(value: Optional[float], digits: int = 3) -> str:
  return 'n/a' if value is None else f'{value:.{digits}f}'


# Charts --------------------------------------------------------------------


def line_chart(title: str, series: Dict[str, Sequence[float]],
               log_scale: bool = False, marker: Optional[int] = None,
               value_range: Optional[Tuple[float, float]] = None) -> str:
  """Values per epoch (1-based), one polyline per series; `marker` an epoch."""
  width, height, left, top, plot_w, plot_h = 500, 270, 66, 28, 280, 200
  transform = ((lambda v: math.log10(max(v, 1e-12))) if log_scale else
               (lambda v: v))
  points = [transform(v) for values in series.values() for v in values]
  low, high = value_range or (min(points), max(points))
  if high - low < 1e-9:
    low, high = low - 0.5, high + 0.5
  epochs = max(len(values) for values in series.values())

  def x(epoch: int) -> float:
    return left + plot_w * (epoch - 1) / max(epochs - 1, 1)

  def y(value: float) -> float:
    return top + plot_h * (1 - (transform(value) - low) / (high - low))

  parts = [f'<svg width="{width}" height="{height}" role="img" '
           f'aria-label="{_e(title)}">',
           f'<text x="{left}" y="16" font-weight="bold">{_e(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
           f'y2="{top + plot_h}" stroke="#999"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
           'stroke="#999"/>']
  for step in range(5):
    level = low + (high - low) * step / 4
    value = 10**level if log_scale else level
    ypos = top + plot_h * (1 - step / 4)
    parts.append(f'<line x1="{left - 4}" y1="{ypos:.1f}" x2="{left}" '
                 f'y2="{ypos:.1f}" stroke="#999"/><text x="{left - 6}" '
                 f'y="{ypos + 4:.1f}" text-anchor="end">{value:.3g}</text>')
  for epoch in range(1, epochs + 1, max(1, epochs // 10)):
    parts.append(f'<text x="{x(epoch):.1f}" y="{top + plot_h + 15}" '
                 f'text-anchor="middle">{epoch}</text>')
  parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" '
               'text-anchor="middle">epoch</text>')
  if marker is not None:
    parts.append(f'<line x1="{x(marker):.1f}" y1="{top}" x2="{x(marker):.1f}" '
                 f'y2="{top + plot_h}" stroke="#888" stroke-dasharray="4 3"/>'
                 f'<text x="{x(marker) + 3:.1f}" y="{top + 10}">restored'
                 '</text>')
  for index, (name, values) in enumerate(series.items()):
    color = _PALETTE[index % len(_PALETTE)]
    coords = ' '.join(f'{x(i + 1):.1f},{y(v):.1f}' for i, v in
                      enumerate(values))
    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                 f'points="{coords}"/>')
    parts.extend(f'<circle cx="{x(i + 1):.1f}" cy="{y(v):.1f}" r="2.5" '
                 f'fill="{color}"/>' for i, v in enumerate(values))
    legend_y = top + 14 + 18 * index
    parts.append(f'<rect x="{left + plot_w + 15}" y="{legend_y - 9}" '
                 f'width="12" height="12" fill="{color}"/><text '
                 f'x="{left + plot_w + 32}" y="{legend_y + 1}">{_e(name)}'
                 '</text>')
  parts.append('</svg>')
  return ''.join(parts)


def confusion_svg(matrix: np.ndarray, classes: Sequence[str]) -> str:
  """Counts per (true, predicted) class, shaded by the share of the row."""
  n = len(classes)
  cell = max(13, min(60, 640 // n))
  label = 7 * max(len(c) for c in classes) + 12
  size_w, size_h = max(label + n * cell + 10, 320), label + n * cell + 30
  parts = [f'<svg width="{size_w}" height="{size_h}" role="img" '
           'aria-label="confusion matrix">',
           f'<text x="{label}" y="{size_h - 8}">predicted class (columns) / '
           'true class (rows)</text>']
  totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  for row in range(n):
    ypos = label + row * cell
    parts.append(f'<text x="{label - 4}" y="{ypos + cell / 2 + 4:.1f}" '
                 f'text-anchor="end">{_e(classes[row])}</text>')
    for col in range(n):
      share = matrix[row, col] / totals[row, 0]
      color = ('#2e7d32' if row == col else '#c62828')
      xpos = label + col * cell
      parts.append(
          f'<rect x="{xpos}" y="{ypos}" width="{cell}" height="{cell}" '
          f'fill="{color}" fill-opacity="{0.08 + 0.85 * share:.3f}" '
          f'stroke="#fff"><title>{_e(classes[row])} -> {_e(classes[col])}: '
          f'{int(matrix[row, col])}</title></rect>')
      if cell >= 18 and matrix[row, col]:
        parts.append(f'<text x="{xpos + cell / 2:.1f}" '
                     f'y="{ypos + cell / 2 + 4:.1f}" text-anchor="middle">'
                     f'{int(matrix[row, col])}</text>')
  for col in range(n):
    xpos = label + col * cell + cell / 2 + 4
    parts.append(f'<text transform="translate({xpos:.1f},{label - 4}) '
                 f'rotate(-60)">{_e(classes[col])}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def metric_bars_svg(per_class: Dict[str, Dict[str, float]],
                    metrics: Sequence[str] = ('precision', 'recall', 'f1')
                   ) -> str:
  """Horizontal bars in [0, 1], one group per class."""
  label = 7 * max(len(c) for c in per_class) + 12
  bar, gap, scale = 7, 8, 320
  group = bar * len(metrics) + gap
  height = 30 + group * len(per_class)
  parts = [f'<svg width="{label + scale + 60}" height="{height}" role="img" '
           'aria-label="per-class metrics">']
  for index, name in enumerate(metrics):
    parts.append(f'<rect x="{label + 110 * index}" y="6" width="10" '
                 f'height="10" fill="{_PALETTE[index]}"/><text '
                 f'x="{label + 110 * index + 14}" y="15">{name}</text>')
  for row, (class_name, values) in enumerate(per_class.items()):
    ytop = 26 + row * group
    parts.append(f'<text x="{label - 4}" y="{ytop + group / 2:.1f}" '
                 f'text-anchor="end">{_e(class_name)}</text>')
    for index, name in enumerate(metrics):
      value = values[name] or 0.0
      parts.append(
          f'<rect x="{label}" y="{ytop + bar * index}" '
          f'width="{scale * value:.1f}" height="{bar - 1}" '
          f'fill="{_PALETTE[index]}"><title>{_e(class_name)} {name}: '
          f'{value:.3f}</title></rect>')
  parts.append(f'<line x1="{label + scale}" y1="22" x2="{label + scale}" '
               f'y2="{height}" stroke="#bbb" stroke-dasharray="3 3"/><text '
               f'x="{label + scale + 4}" y="34">1.0</text></svg>')
  return ''.join(parts)


# What the run recorded --------------------------------------------------


def clip_counts(examples, classes: Sequence[str]) -> List[List[Any]]:
  """Rows of (class, clips in fold 1..5, total) from ExampleGen's output."""
  columns = record_files.read_columns(
      examples_io.split_files(examples, splits.ALL_FOLD_SPLITS),
      clip_examples.parse_spec([clip_examples.CATEGORY, clip_examples.FOLD]))
  counts = collections.Counter(
      zip((record_files.decode(c) for c in columns[clip_examples.CATEGORY]),
          columns[clip_examples.FOLD].tolist()))
  folds = [splits.fold_of_split(s) for s in splits.ALL_FOLD_SPLITS]
  rows = []
  for name in classes:
    per_fold = [counts[(name, fold)] for fold in folds]
    rows.append([name] + per_fold + [sum(per_fold)])
  return rows


def training_history(model_run_uri: str) -> Dict[str, List[float]]:
  """epoch_loss / epoch_accuracy per epoch from the Keras TensorBoard logs."""
  history = {}
  for subset in ('train', 'validation'):
    values: Dict[str, Dict[int, float]] = {}
    for path in sorted(tf.io.gfile.glob(
        os.path.join(model_run_uri, subset, 'events.out.tfevents.*'))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag in ('epoch_loss', 'epoch_accuracy'):
            values.setdefault(value.tag, {})[event.step] = float(
                tf.make_ndarray(value.tensor))
    for tag, by_step in values.items():
      history[f'{subset} {tag[len("epoch_"):]}'] = [
          by_step[step] for step in sorted(by_step)]
  return history


# Sections ----------------------------------------------------------------


def _overview(config: configs.PipelineConfig,
              summary: run_summary.RunSummary) -> str:
  components = summary.components
  names = sorted(components, key=nodes.order_key)
  status_class = 'ok' if summary.status == 'complete' else 'bad'
  facts = [
      ('Status', f'<span class="{status_class}">{_e(summary.status)}'
                 '</span>'),
      ('Data root', _e(config.data_root)),
      ('Classes', _e(', '.join(config.classes))),
      ('YAMNet', _e((summary.yamnet and summary.yamnet.handle) or
                    config.yamnet_handle)),
      ('Folds', _e(f'train {list(config.train_folds)}, early stopping '
                   f'{list(config.eval_folds)}, '
                   f'test {list(config.test_folds)}')),
  ]
  rows = ''.join(f'<tr><th>{k}</th><td class="text">{v}</td></tr>'
                 for k, v in facts)
  return (f'<table>{rows}</table>' + _table(
      ['component', 'status', 'seconds'],
      [[n, components[n].status, components[n].seconds] for n in names],
      text_columns=(1,)))


def _data_section(config: configs.PipelineConfig,
                  summary: run_summary.RunSummary, run: mlmd_runs.Run) -> str:
  clips = summary.clips
  parts = ['<h2 id="data">Data</h2>',
           f'<p>Clips: {_e(clips.listed)} listed, '
           f'{_e(clips.embedded)} embedded, '
           f'{_e(clips.quarantined)} quarantined '
           f'({_e(clips.patches)} YAMNet patches of 0.96 s).</p>']
  examples = run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  if examples:
    rows = clip_counts(examples, config.classes)
    folds = [f'fold {splits.fold_of_split(s)}' for s in splits.ALL_FOLD_SPLITS]
    parts.append('<p>Usable clips per class and fold (ExampleGen output):</p>'
                 + _table(['class'] + folds + ['total'], rows))
  quarantined = [
      [stage] + [record[field] for field in quarantine.FIELDS]
      for stage, node, key in (
          ('decoding', nodes.EXAMPLE_GEN, example_gen.QUARANTINE_KEY),
          ('embedding', nodes.EMBEDDING_GEN, embedding_gen.QUARANTINE_KEY))
      for artifact in run.artifacts(node, key)
      for record in quarantine.read_quarantine(artifact.uri)]
  if quarantined:
    parts.append('<p>Quarantined clips, with the reason:</p>' + _table(
        ['stage'] + list(quarantine.FIELDS), quarantined,
        text_columns=(1, 2, 3, 4, 5)))
  else:
    parts.append('<p>No clip was quarantined.</p>')
  return ''.join(parts)


def _training_section(run: mlmd_runs.Run) -> str:
  model_run = run.single(nodes.TRAINER, keys.MODEL_RUN_KEY)
  history = training_history(model_run.uri) if model_run else {}
  if not history:
    return ('<h2 id="training">Training</h2><p>No training logs in this '
            'run.</p>')
  val_loss = history.get('validation loss')
  best = int(np.argmin(val_loss)) + 1 if val_loss else None
  # What the Trainer recorded it used, not today's defaults.
  refit = hp.read_record(model_run.uri).get('refit')
  then = (f'the exported head was then trained afresh on the train and eval '
          f'folds for {best} epochs' if refit else
          'its weights were exported' if refit is not None else
          'the Trainer recorded no refit setting')
  note = (f'<p>{len(val_loss)} epochs; early stopping chose epoch {best} '
          f'(lowest validation loss, {val_loss[best - 1]:.4g}); {then}.</p>'
          if best else '')
  charts = [
      line_chart('Loss (log scale)', {k: v for k, v in history.items()
                                       if k.endswith('loss')},
                 log_scale=True, marker=best),
      line_chart('Accuracy (patches)', {k: v for k, v in history.items()
                                        if k.endswith('accuracy')},
                 marker=best, value_range=(0.0, 1.0))]
  return ('<h2 id="training">Training</h2>' + note +
          f'<div class="charts">{"".join(charts)}</div>')


def _evaluation_section(config: configs.PipelineConfig,
                        summary: run_summary.RunSummary) -> str:
  parts = ['<h2 id="evaluation">Test folds</h2>']
  recorded = summary.confusion_matrix
  if recorded:
    matrix = np.array(recorded.matrix)
    clips = evaluation_results.per_class_metrics(matrix, recorded.classes)
    parts.append(
        f'<p>Clip accuracy of the trained model on folds '
        f'{_e(list(config.test_folds))}: <b>{_fmt(clips["accuracy"])}</b> '
        f'({clips["clips"]} clips). The Evaluator ran the exported model on '
        'each clip as TF Serving does: YAMNet, the head, logits averaged over '
        'the clip\'s patches, argmax.</p>')
    parts.append('<div class="charts">' +
                 confusion_svg(matrix, recorded.classes) +
                 metric_bars_svg(clips['per_class']) + '</div>')
    parts.append(_table(
        ['class', 'precision', 'recall', 'F1', 'clips'],
        [[name, _fmt(m['precision']), _fmt(m['recall']), _fmt(m['f1']),
          m['support']] for name, m in clips['per_class'].items()]))
  else:
    parts.append('<p>No clip-level evaluation in this run.</p>')
  for label, metrics in (('Clip-level metrics (the push gate)',
                           summary.metrics),
                          ('Patch-level metrics (the source recipe\'s view, '
                           'reported only)', summary.patch_metrics)):
    if metrics:
      parts.append(f'<p>{label}:</p>' + _table(
          ['metric', 'value'],
          [[k, _fmt(v, 4)] for k, v in sorted(metrics.items())]))
  return ''.join(parts)


def _gate_section(config: configs.PipelineConfig,
                  summary: run_summary.RunSummary) -> str:
  parts = ['<h2 id="gate">Gate and push</h2>']
  if summary.blessed is None:
    parts.append('<p>The Evaluator did not run.</p>')
  else:
    verdict = ('<span class="ok">blessed</span>' if summary.blessed else
               '<span class="bad">not blessed</span>')
    parts.append(
        f'<p>Gate: {verdict}. Required: clip accuracy on the test folds of '
        f'at least {config.min_accuracy:g} overall, and no lower than the '
        'last blessed model\'s. Per-class figures are reported, not '
        'gated.</p>')
    parts.append(f'<p>{_e(summary.blessing_reason)}.</p>')
  check = summary.serving_check
  if check:
    parts.append(f'<p>Serving check: '
                 f'{"passed" if check.passed else "failed"} '
                 f'({_e(check.reason)}).</p>')
  if summary.pushed:
    path = summary.pushed_path.rstrip('/')
    parts.append(f'<p>Pushed version <b>{_e(os.path.basename(path))}</b> '
                 f'to {_e(path)}.</p>')
  else:
    parts.append('<p>Pushed: no.</p>')
  return ''.join(parts)


def render(config: configs.PipelineConfig, summary: run_summary.RunSummary,
           run: mlmd_runs.Run) -> str:
  """The report's HTML for a run's summary and output artifacts."""
  title = f'{summary.pipeline} run {summary.run_id}'
  generated = datetime.datetime.now().isoformat(timespec='seconds')
  return ''.join([
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
      f'<title>{_e(title)}</title><style>{_CSS}</style></head><body>',
      f'<h1>{_e(title)}</h1><p>Report generated {generated}.</p>',
      _overview(config, summary),
      _data_section(config, summary, run),
      _training_section(run),
      _evaluation_section(config, summary),
      _gate_section(config, summary),
      '</body></html>\n'])


def write_report(config: configs.PipelineConfig,
                 summary: run_summary.RunSummary) -> str:
  """Writes reports/<run id>.html and a copy as report.html; returns the first.

  Each run keeps its own report; report.html is always the latest one.
  """
  run = mlmd_runs.latest_run(
      tfx.orchestration.metadata.sqlite_metadata_connection_config(
          config.metadata_path), config.pipeline_name)
  name = re.sub(r'[^\w.-]', '-', summary.run_id) + '.html'
  path = os.path.join(config.output_dir, REPORTS_DIR, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(render(config, summary, run))
  shutil.copyfile(path, os.path.join(config.output_dir, REPORT_FILE))
  return path
