"""The embedding benchmark's headline ratios and tables."""

import statistics
from typing import Any, Dict, List

import machine

from embedding_tasks import SMALL_CLIPS


def summarize(report: Dict[str, Any], clips: int, modes: List[str]) -> None:
  """Headline figures: the N-clip set's best mode against raw and recipe."""
  raw = max(f['patches_per_s'] for f in report['raw'].values())
  recipe = report['recipe']['patches_per_s']
  big = report['datasets'][f'synthetic-{clips}']
  small = report['datasets'][f'synthetic-{SMALL_CLIPS}']
  for mode in modes:
    big[mode]['marginal_patches_per_s'] = (
        (big[mode]['patches'] - small[mode]['patches']) /
        (big[mode]['seconds'] - small[mode]['seconds']))
    big[mode]['rss_growth_mb'] = (big[mode]['peak_rss_mb'] -
                                  small[mode]['peak_rss_mb'])
  best = report['paired']['mode']  # The fastest whole run (see `run`).
  report.update(
      raw_patches_per_s=raw,
      tutorial_patches_per_s=recipe,
      pipeline_mode=best,
      pipeline_patches_per_s=big[best]['patches_per_s'],
      pipeline_marginal_patches_per_s=big[best]['marginal_patches_per_s'],
      pipeline_peak_rss_mb=big[best]['peak_rss_mb'],
      pipeline_peak_rss_mb_small=small[best]['peak_rss_mb'],
      ratio_pipeline_to_raw=big[best]['patches_per_s'] / raw,
      ratio_pipeline_to_tutorial=big[best]['patches_per_s'] / recipe,
      raw_same_work_patches_per_s=statistics.median(
          r['raw_patches_per_s'] for r in report['paired']['rounds']),
      ratio_pipeline_to_raw_paired=report['paired']['median_ratio'],
      ratio_marginal_to_raw=big[best]['marginal_patches_per_s'] / raw,
      ratio_marginal_to_tutorial=big[best]['marginal_patches_per_s'] / recipe)


def format_report(report: Dict[str, Any]) -> str:
  """The report as the tables docs/performance.md shows."""
  raw = report['raw_patches_per_s']
  recipe = report['tutorial_patches_per_s']
  lines = [machine.format_machine(report['machine']), '']
  if 'skipped' in report:
    lines += [f"Skipped {report['skipped']}", '']
  lines.append(f"1. Raw YAMNet on decoded audio ({report['raw_dataset']}):")
  for name, f in sorted(report['raw'].items(),
                        key=lambda kv: -kv[1]['patches_per_s']):
    lines.append(f"   {name:56s} {f['patches_per_s']:6.0f} patches/s, "
                 f"{f['cpu_ms_per_patch']:.2f} CPU ms/patch")
  r = report['recipe']
  lines += ['', f"2. Source recipe (tf.data, decode + resample per file, one "
                f"call per clip): {recipe:.0f} patches/s, "
                f"{r['cpu_ms_per_patch']:.2f} CPU ms/patch ({r['clips']} "
                "clips)",
            '', '3. Embedding executor (ExampleGen output -> patch Examples):',
            f"   {'dataset':18s} {'mode':17s} {'clips':>5s} {'patches':>7s} "
            f"{'seconds':>7s} {'patches/s':>9s} {'x raw':>6s} {'x recipe':>8s} "
            f"{'CPU ms/patch':>12s} {'peak RSS MB':>11s} {'marginal/s':>10s} "
            f"{'load':>5s}"]
  for name, modes in report['datasets'].items():
    for mode, f in modes.items():
      marginal = f.get('marginal_patches_per_s')
      lines.append(
          f"   {name:18s} {mode:17s} {f['clips']:5d} {f['patches']:7d} "
          f"{f['seconds']:7.1f} {f['patches_per_s']:9.0f} "
          f"{f['patches_per_s'] / raw:6.2f} {f['patches_per_s'] / recipe:8.2f} "
          f"{f['cpu_ms_per_patch']:12.2f} {f['peak_rss_mb']:11.0f} "
          f"{marginal if marginal is not None else float('nan'):10.0f} "
          f"{f['load_1m_after']:5.2f}")
  paired = report['paired']
  lines += ['', f"4. Back to back, {paired['clips']} synthetic clips: the "
                f"executor ({paired['mode']}) and raw YAMNet (graph batch 16, "
                "one pass) over the same clips, per round:"]
  for index, f in enumerate(paired['rounds']):
    lines.append(f"   round {index + 1}: pipeline "
                 f"{f['pipeline_patches_per_s']:5.0f}, raw "
                 f"{f['raw_patches_per_s']:5.0f} patches/s, ratio "
                 f"{f['ratio']:.2f}")
  lost = [f"{name} {mode}: {message}"
          for name, modes in report['datasets'].items()
          for mode, f in modes.items()
          for message in f.get('example_gen_lost_records', [])]
  if lost:
    lines += ['', 'ExampleGen runs that lost records (and were rerun):'] + [
        f'   {line}' for line in lost]
  lines += [
      '',
      f"Best mode on the large set: {report['pipeline_mode']}: "
      f"{report['pipeline_patches_per_s']:.0f} patches/s whole run "
      f"({report['ratio_pipeline_to_raw']:.2f} x raw {raw:.0f}, "
      f"{report['ratio_pipeline_to_tutorial']:.2f} x recipe {recipe:.0f}, "
      f"{report['ratio_pipeline_to_raw_paired']:.2f} x raw back to back, "
      "median of the rounds); "
      f"marginal {report['pipeline_marginal_patches_per_s']:.0f} patches/s "
      f"({report['ratio_marginal_to_raw']:.2f} x raw, "
      f"{report['ratio_marginal_to_tutorial']:.2f} x recipe)",
      f"Peak RSS: {report['pipeline_peak_rss_mb']:.0f} MB on the large set, "
      f"{report['pipeline_peak_rss_mb_small']:.0f} MB on {SMALL_CLIPS} clips",
      f"Load average (1 min) at the end: {report['load_average_1m_end']:.2f}; "
      "'load' is after each run. Above ~2 other processes shared the cores."]
  return '\n'.join(lines)

