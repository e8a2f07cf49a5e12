"""A self-contained HTML report of one pipeline run, written beside its outputs.

One file with inline CSS and SVG and no scripts, fonts or links to fetch, so it
opens the same from a laptop, a CI artifact store or an offline machine. It
shows only what the run recorded: MLMD (summary and output artifacts), the
clips ExampleGen wrote and quarantined, the Trainer's TensorBoard logs, and
what the Evaluators computed (clip level with the served computation, and
patch level).
"""

import datetime
import html
import os
import re
import shutil
from typing import Any, Optional, Sequence

import numpy as np
from tfx.orchestration import metadata
from tfx.types import standard_component_specs as keys
from tfx.utils import path_utils

from components import quarantine
from components import splits
from components.esc50_example_gen import executor as example_gen
from components.yamnet_embedding import executor as embedding_gen
from models import hyperparameters as hp
from pipeline import configs
from pipeline import evaluation_results
from pipeline import mlmd_runs
from pipeline import nodes
from pipeline import report_charts
from pipeline import report_data
from pipeline import run_summary

REPORT_FILE = 'report.html'
REPORTS_DIR = 'reports'
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
      ('Classes', _e(', '.join(summary.dataset.classes or config.classes))),
      ('Layout', _e(', '.join(summary.dataset.layouts))),
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
           f'{_e(clips.embedded)} embedded by this run, '
           f'{_e(clips.reused)} reused from earlier runs, '
           f'{_e(clips.quarantined)} quarantined '
           f'({_e(clips.patches)} YAMNet patches of 0.96 s).</p>']
  examples = run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  if examples:
    rows = report_data.clip_counts(
        examples, summary.dataset.classes or config.classes)
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
  history = report_data.training_history(model_run.uri) if model_run else {}
  if not history:
    return ('<h2 id="training">Training</h2><p>No training logs in this '
            'run.</p>')
  val_loss = history.get('validation loss')
  best = int(np.argmin(val_loss)) + 1 if val_loss else None
  # What the Trainer recorded it used, not today's defaults.
  record = hp.read_record(model_run.uri)
  refit = record.get('refit')
  warm_start_from = record.get(hp.WARM_START_FROM)
  start = (f'Started from the head of {html.escape(warm_start_from)}. '
           if warm_start_from else '')
  how = 'again from that head' if warm_start_from else 'afresh'
  then = (f'the exported head was then trained {how} on the train and eval '
          f'folds for {best} epochs' if refit else
          'its weights were exported' if refit is not None else
          'the Trainer recorded no refit setting')
  note = (f'<p>{start}{len(val_loss)} epochs; early stopping chose epoch '
          f'{best} (lowest validation loss, {val_loss[best - 1]:.4g}); '
          f'{then}.</p>' if best else '')
  charts = [
      report_charts.line_chart('Loss (log scale)', {k: v for k, v in history.items()
                                       if k.endswith('loss')},
                 log_scale=True, marker=best),
      report_charts.line_chart('Accuracy (patches)', {k: v for k, v in history.items()
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
                 report_charts.confusion_svg(matrix, recorded.classes) +
                 report_charts.metric_bars_svg(clips['per_class']) + '</div>')
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


# Clips drawn at most: one figure per class, up to this many classes.
MAX_CLIP_FIGURES = 12


def _clips_section(config: configs.PipelineConfig,
                   summary: run_summary.RunSummary,
                   run: mlmd_runs.Run) -> str:
  """One test clip per class: waveform, log-mel, per-patch probabilities."""
  examples = run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY)
  model = run.single(nodes.TRAINER, keys.MODEL_KEY)
  if examples is None or model is None:
    return ''
  every_class = summary.dataset.classes or list(config.classes)
  classes = every_class[:MAX_CLIP_FIGURES]
  views = report_data.clip_views(
      path_utils.serving_model_path(model.uri),
      report_data.first_clip_per_class(examples, config.test_folds, classes))
  more = (f' (the first {MAX_CLIP_FIGURES} of {len(every_class)} classes)'
          if len(every_class) > MAX_CLIP_FIGURES else '')
  return ('<h2 id="clips">What the model hears</h2>'
          f'<p>The first test clip of each class{more}: its waveform, '
          'YAMNet\'s log-mel spectrogram, and the trained model\'s class '
          'probabilities for each 0.96 s patch (serving_timeline), drawn at '
          'the patch\'s centre.</p><div class="charts">' +
          ''.join(report_charts.clip_figure(view) for view in views) +
          '</div>')


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
  if summary.tflite:
    parts.append(
        '<p>On-device (TFLite) models, each checked against the SavedModel '
        'on the test clips and pushed with it only if it passed:</p>' +
        _table(['variant', 'pushed', 'MB', 'clips', 'top-1 agreement',
                'largest probability difference', 'check'],
               [[c.variant, 'yes' if c.passed else 'no',
                 f'{c.size_bytes / 1e6:.1f}', c.clips, _fmt(c.top1_agreement),
                 f'{c.max_probability_diff:.2g}', c.reason]
                for c in summary.tflite], text_columns=(0, 1, 6)))
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
      _clips_section(config, summary, run),
      _gate_section(config, summary),
      '</body></html>\n'])


def write_report(config: configs.PipelineConfig,
                 summary: run_summary.RunSummary) -> str:
  """Writes reports/<run id>.html and a copy as report.html; returns the first.

  Each run keeps its own report; report.html is always the latest one.
  """
  run = mlmd_runs.latest_run(
      metadata.sqlite_metadata_connection_config(
          config.metadata_path), config.pipeline_name)
  name = re.sub(r'[^\w.-]', '-', summary.run_id) + '.html'
  path = os.path.join(config.output_dir, REPORTS_DIR, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(render(config, summary, run))
  shutil.copyfile(path, os.path.join(config.output_dir, REPORT_FILE))
  return path
