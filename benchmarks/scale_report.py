"""The scale benchmark's fits, targets and tables, from its measured runs.

Per node, seconds per 1,000 clips at each size, and a least-squares line
through (clips, wall seconds) over the sizes: the intercept is the fixed
cost, the slope the cost per clip (marginal seconds per 1,000 clips); the
same through CPU seconds (`cpu_fit`), which a busy machine disturbs less
than wall seconds. The largest fixed cost is named by wall, among the nodes
and start-up. The targets of issue 18 are checked between the smallest and
the largest size: every node's peak RSS grows at most 1.5x, and the total
wall grows at most as much as the clips (10x from 2,000 to 20,000).

`analyse` adds to the JSON: "per_component": {"<node id>":
{"s_per_1000_clips": {"<N>": ...}, "fit": {"fixed_s": ...,
"s_per_1000_clips_marginal": ...}, "cpu_fit": {...}, "peak_rss_ratio": ...,
"wall_ratio": ...}}, "total_fit", "largest_fixed_cost" and "targets".
Nothing here measures, so a stored report can be rendered again.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

import machine

PEAK_RSS_RATIO_TARGET = 1.5


# ---------------------------------------------------------------- analysis


def fit(clips: Sequence[int], seconds: Sequence[float]
       ) -> Optional[Dict[str, float]]:
  """Least-squares seconds = fixed + per_clip * clips; None for one size."""
  if len(set(clips)) < 2:
    return None
  slope, intercept = np.polyfit(np.array(clips, float),
                                np.array(seconds, float), 1)
  return {'fixed_s': round(float(intercept), 2),
          's_per_1000_clips_marginal': round(float(slope) * 1000, 3)}


def _per_component(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
  """Per node present in every run: s per 1,000 clips, fits and ratios."""
  sizes = [run['clips'] for run in runs]
  small, large = runs[0], runs[-1]
  names = [n for n in large['components'] if all(
      n in run['components'] for run in runs)]
  per_component = {}
  for name in names:
    walls = [run['components'][name]['wall_s'] for run in runs]
    facts: Dict[str, Any] = {
        's_per_1000_clips': {str(n): round(w / n * 1000, 3)
                             for n, w in zip(sizes, walls)},
        'fit': fit(sizes, walls),
        # CPU seconds are what a busy machine disturbs least.
        'cpu_fit': fit(sizes, [run['components'][name]['cpu_s']
                               for run in runs])}
    if len(runs) > 1:
      facts['peak_rss_ratio'] = round(
          large['components'][name]['peak_rss_mb'] /
          small['components'][name]['peak_rss_mb'], 3)
      facts['wall_ratio'] = round(
          walls[-1] / walls[0], 3) if walls[0] > 0 else None
    per_component[name] = facts
  return per_component


def _largest_fixed_cost(runs: List[Dict[str, Any]],
                        per_component: Dict[str, Any]) -> Dict[str, Any]:
  """The node or start-up with the largest fitted fixed wall seconds."""
  fits = {name: facts['fit']['fixed_s'] for name, facts in
          per_component.items() if facts['fit']}
  startup = fit([run['clips'] for run in runs],
                [run['phases']['start-up']['wall_s'] for run in runs])
  fits['(start-up)'] = startup['fixed_s']
  largest = max(fits, key=fits.get)
  return {'component': largest, 'fixed_s': fits[largest]}


def _targets(runs: List[Dict[str, Any]],
             per_component: Dict[str, Any]) -> Dict[str, Any]:
  """Issue 18's targets between the smallest and the largest size."""
  small, large = runs[0], runs[-1]
  clips_ratio = large['clips'] / small['clips']
  rss_over = {name: facts['peak_rss_ratio'] for name, facts in
              per_component.items()
              if facts['peak_rss_ratio'] > PEAK_RSS_RATIO_TARGET}
  wall_ratio = large['total_wall_s'] / small['total_wall_s']
  return {
      'sizes': [small['clips'], large['clips']],
      'peak_rss_ratio_max': PEAK_RSS_RATIO_TARGET,
      'peak_rss_met': not rss_over, 'peak_rss_over': rss_over,
      'total_wall_ratio': round(wall_ratio, 3),
      'total_wall_ratio_max': round(clips_ratio, 3),
      'total_wall_met': wall_ratio <= clips_ratio,
  }


def analyse(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
  """Seconds per 1,000 clips, fits, ratios and the targets."""
  per_component = _per_component(runs)
  analysis: Dict[str, Any] = {'per_component': per_component}
  total_fit = fit([run['clips'] for run in runs],
                  [run['total_wall_s'] for run in runs])
  analysis['total_fit'] = total_fit
  if total_fit:
    analysis['largest_fixed_cost'] = _largest_fixed_cost(runs, per_component)
  if len(runs) > 1:
    analysis['targets'] = _targets(runs, per_component)
  return analysis


# ------------------------------------------------------------------ tables


def _mb(x: float) -> str:
  return f'{x:,.0f}'


def _row(cells: List[str]) -> str:
  return '| ' + ' | '.join(cells) + ' |'


def _settings(report: Dict[str, Any]) -> List[str]:
  """The machine, the run's settings and each size's load and outcome."""
  runs = report['runs']
  lines = [machine.format_machine(report['machine']),
           f"YAMNet: {report['yamnet']}; {report['classes']} classes x "
           f"{report['folds']} folds, {report['clip_seconds']:g} s clips at "
           f"{report['sample_rate']} Hz; Trainer epochs: {report['epochs']}; "
           'cold runs of '
           + ', '.join(f"{r['clips']:,}" for r in runs) + ' clips']
  for r in runs:
    lines.append(
        f"  {r['clips']:,} clips: load average before "
        f"{r['load_average_before'][0]:.2f}, after "
        f"{r['load_average_after'][0]:.2f}; {r['clips_embedded']} embedded; "
        f"blessed: {r['blessed']}")
  return lines


def _table_head(sizes: List[int]) -> List[str]:
  """The table's header and rule; ratios and fits need two sizes."""
  head = (['component'] + [f'wall s {n:,}' for n in sizes] +
          [f'CPU s {n:,}' for n in sizes] + [f'peak MB {n:,}' for n in sizes])
  head += [f'added MB {sizes[-1]:,}']
  if len(sizes) > 1:
    head += ['RSS ratio', 'wall ratio']
  head += [f's/1k clips {n:,}' for n in sizes]
  if len(sizes) > 1:
    head += ['fixed s', 'marginal s/1k', 'fixed CPU s']
  return [_row(head), '|' + '---|' * len(head)]


def _measured(figs: List[Dict[str, Any]]) -> List[str]:
  """Wall s, CPU s and peak MB at each size."""
  return ([f"{f['wall_s']:.1f}" for f in figs] +
          [f"{f['cpu_s']:.1f}" for f in figs] +
          [_mb(f['peak_rss_mb']) for f in figs])


def _component_row(name: str, facts: Dict[str, Any],
                   runs: List[Dict[str, Any]]) -> str:
  figs = [r['components'][name] for r in runs]
  row = ([name] + _measured(figs) +
         [_mb(figs[-1]['peak_rss_mb'] - figs[-1]['rss_at_start_mb'])])
  if len(runs) > 1:
    wall_ratio = facts['wall_ratio']
    row += [f"{facts['peak_rss_ratio']:.2f}",
            '-' if wall_ratio is None else f'{wall_ratio:.1f}']
  row += [f'{v:.2f}' for v in facts['s_per_1000_clips'].values()]
  if facts['fit']:
    row += [f"{facts['fit']['fixed_s']:.1f}",
            f"{facts['fit']['s_per_1000_clips_marginal']:.2f}",
            f"{facts['cpu_fit']['fixed_s']:.1f}"]
  return _row(row)


def _whole_run_row(report: Dict[str, Any]) -> str:
  runs = report['runs']
  row = (['**whole run**'] + [f"{r['total_wall_s']:.1f}" for r in runs] +
         [f"{r['total_cpu_s']:.1f}" for r in runs] +
         [_mb(r['total_peak_rss_mb']) for r in runs] + [''])
  if len(runs) > 1:
    row += [f"{runs[-1]['total_peak_rss_mb'] / runs[0]['total_peak_rss_mb']:.2f}",
            f"{report['targets']['total_wall_ratio']:.1f}"]
  row += [f"{r['total_wall_s'] / r['clips'] * 1000:.2f}" for r in runs]
  if report.get('total_fit'):
    row += [f"{report['total_fit']['fixed_s']:.1f}",
            f"{report['total_fit']['s_per_1000_clips_marginal']:.2f}"]
  return _row(row)


def _table(report: Dict[str, Any]) -> List[str]:
  """One row per node, per phase and for the whole run."""
  runs = report['runs']
  lines = _table_head([r['clips'] for r in runs])
  for name, facts in report['per_component'].items():
    lines.append(_component_row(name, facts, runs))
  for phase in runs[0]['phases']:
    figs = [r['phases'][phase] for r in runs]
    lines.append(_row([f'({phase})'] + _measured(figs) + ['']))
  lines.append(_whole_run_row(report))
  return lines


def _verdicts(report: Dict[str, Any]) -> List[str]:
  """Whether the targets were met, and the largest fixed cost."""
  runs, per = report['runs'], report['per_component']
  lines = []
  if 'targets' in report:
    t = report['targets']
    small, large = (f'{n:,}' for n in t['sizes'])
    over = ', '.join(f'{n} {v:.2f}x' for n, v in t['peak_rss_over'].items())
    worst = max(per, key=lambda n: per[n]['peak_rss_ratio'])
    lines += [
        '',
        f"Target: every component's peak RSS at {large} <= "
        f"{t['peak_rss_ratio_max']}x at {small}: "
        + ('met' if t['peak_rss_met'] else f'NOT met ({over})')
        + f" (largest ratio: {worst} {per[worst]['peak_rss_ratio']:.2f}x)",
        f"Target: total wall at {large} <= {t['total_wall_ratio_max']:g}x "
        f"at {small}: " + ('met' if t['total_wall_met'] else 'NOT met')
        + f" ({t['total_wall_ratio']:.2f}x: "
        f"{runs[-1]['total_wall_s']:.1f} s against "
        f"{runs[0]['total_wall_s']:.1f} s)"]
  if 'largest_fixed_cost' in report:
    largest = report['largest_fixed_cost']
    lines.append(f"Largest fixed cost: {largest['component']} "
                 f"({largest['fixed_s']:.1f} s at no clips, by the line "
                 'through the sizes)')
  return lines


def format_report(report: Dict[str, Any]) -> str:
  """The report as the tables docs/performance.md shows."""
  return '\n'.join(_settings(report) + [''] + _table(report) +
                   _verdicts(report))
