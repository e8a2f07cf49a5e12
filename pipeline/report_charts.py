"""The report's charts: small inline SVG drawings, no scripts or fonts.

Each function returns one `<svg>` element. Hover titles carry the exact
numbers (the confusion matrix's counts per cell), so a reader of the HTML, or
a test, can read the values without measuring pixels.
"""

import html
import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

_PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728')


def _e(value: Any) -> str:
  return html.escape(str(value))


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


def _column_ranges(values: np.ndarray, columns: int) -> np.ndarray:
  """[columns, 2] min and max of `values` split into `columns` runs."""
  parts = np.array_split(values, min(columns, len(values)))
  return np.array([[part.min(), part.max()] for part in parts])


def _grey(level: float) -> str:
  shade = int(255 * (1 - level))
  return f'#{shade:02x}{shade:02x}{shade:02x}'


def clip_figure(view, max_lines: int = 4) -> str:
  """Waveform, YAMNet's log-mel spectrogram and the head's per-patch class
  probabilities of one clip, on one time axis (the source recipe's plot).

  At most `max_lines` classes get a probability line: all of them when the
  model has that few, else the clip's class and each patch's top class. Each
  point's hover title has its exact time and probability.
  """
  width, left, plot_w = 620, 60, 520
  duration = len(view.waveform) / 16000
  x = lambda seconds: left + plot_w * seconds / max(duration, 1e-9)
  parts = [f'<svg width="{width}" height="400" role="img" aria-label="clip '
           f'{_e(view.clip_id)}"><text x="{left}" y="16" font-weight="bold">'
           f'{_e(view.class_name)}: {_e(view.clip_id)}</text>']
  # Waveform: min-max per column.
  top, height = 28, 80
  for i, (low, high) in enumerate(_column_ranges(view.waveform, 260)):
    xpos = left + plot_w * i / 260
    parts.append(f'<line x1="{xpos:.1f}" x2="{xpos:.1f}" '
                 f'y1="{top + height * (1 - high) / 2:.1f}" '
                 f'y2="{top + height * (1 - low) / 2:.1f}" stroke="#555"/>')
  # Log-mel: 100 time columns x 16 bands, darker is louder.
  top, height = 122, 112
  cells = np.array([frames.mean(axis=0) for frames in np.array_split(
      view.log_mel, min(100, len(view.log_mel)), axis=0)
                   ]).reshape(-1, 16, view.log_mel.shape[1] // 16).mean(axis=2)
  low, high = float(cells.min()), float(cells.max())
  cell_w, cell_h = plot_w / len(cells), height / 16
  for i, column in enumerate(cells):
    for band, value in enumerate(column):
      level = (value - low) / max(high - low, 1e-9)
      parts.append(f'<rect x="{left + i * cell_w:.1f}" '
                   f'y="{top + height - (band + 1) * cell_h:.1f}" '
                   f'width="{cell_w + 0.5:.1f}" height="{cell_h + 0.5:.1f}" '
                   f'fill="{_grey(level)}"/>')
  parts.append(f'<text x="{left - 6}" y="{top + 12}" text-anchor="end">'
               'log-mel</text>')
  # Probabilities per patch, at each patch's centre.
  top, height = 250, 110
  names = view.class_names
  shown = (range(len(names)) if len(names) <= max_lines else sorted(
      {names.index(view.class_name)} |
      set(view.probabilities.argmax(axis=1).tolist()))[:max_lines])
  centres = view.start_s + 0.48
  for index, class_index in enumerate(shown):
    color = _PALETTE[index % len(_PALETTE)]
    values = view.probabilities[:, class_index]
    ys = [top + height * (1 - v) for v in values]
    coords = ' '.join(f'{x(t):.1f},{y:.1f}' for t, y in zip(centres, ys))
    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                 f'points="{coords}"/>')
    parts.extend(
        f'<circle cx="{x(t):.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
        f'<title>{_e(names[class_index])} at {t:.2f} s: {v:.4f}</title>'
        '</circle>' for t, y, v in zip(centres, ys, values))
    parts.append(f'<text x="{left + 4 + 90 * index}" y="{top + height + 18}" '
                 f'fill="{color}">{_e(names[class_index])}</text>')
  parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">1'
               f'</text><text x="{left - 6}" y="{top + height}" '
               'text-anchor="end">0</text>')
  parts.append(f'<text x="{left + plot_w}" y="{top + height + 34}" '
               f'text-anchor="end">{duration:.2f} s</text></svg>')
  return ''.join(parts)
