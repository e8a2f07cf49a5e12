"""ESC-50's 5-fold cross-validation of the pipeline's head and a linear probe.

A single train/eval/test split of ESC-50 is noisy (one fold is 400 clips, 8 per
class), so model changes are judged on all five folds. The embeddings come from
the pipeline's own stages (Esc50ExampleGen -> YamnetEmbeddingGen on
LocalDagRunner, with their own pipeline name and MLMD under the output
directory): they are computed once, and a later run on the same clips with the
same YAMNet is served from cache.

For each held-out fold k the head (models/model.py: Dense(512, relu) ->
Dense(n), Adam, early stopping on val_loss with the best weights restored)
trains on three folds and validates on the fold before k, so k = 5 trains on
1-3 and validates on 4, the pipeline's default split. A standardised
logistic-regression probe on the per-patch embeddings trains on the same three
folds: it tells whether the head gets what a linear model finds in the
embeddings. Both score a clip as the served model does: the argmax of scores
averaged over its patches (head logits; probe log-probabilities).
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import special
from sklearn import linear_model
from sklearn import pipeline as sklearn_pipeline
from sklearn import preprocessing
import tensorflow as tf
from tfx.orchestration.local import local_dag_runner
from tfx.types import standard_component_specs as keys

from components import artifact_properties as properties
from components import examples_io
from components.yamnet_embedding import executor as embedding_gen
from data import folds as fold_assignment
from data import record_files
from models import hyperparameters as hp
from models import model as model_module
from pipeline import configs
from pipeline import local_runner
from pipeline import mlmd_runs
from pipeline import nodes
from pipeline import pipeline as pipeline_def
from yamnet import patch_examples as patches

PIPELINE_MODEL_NAME = 'cross-validation'
REFERENCE = ('published reference: frozen YAMNet embeddings + a shallow head '
             'on the full ESC-50 (50 classes, 5-fold) reach 83.75% clip '
             'accuracy (HEAR 2021 leaderboard)')
_EMBEDDING_SPEC = {name: patches.FEATURE_SPEC[name] for name in (
    patches.EMBEDDING, patches.LABEL, patches.CLIP_ID, patches.FOLD)}
FOLDS = tuple(range(1, fold_assignment.NUM_FOLDS + 1))


def cv_config(config: configs.PipelineConfig) -> configs.PipelineConfig:
  """The config of the embedding stages: the user's, under its own name.

  Its own pipeline name keeps the cross-validation runs apart from the
  pipeline's own in a shared output folder.
  """
  return dataclasses.replace(config, model_name=PIPELINE_MODEL_NAME)


def validation_fold(held_out: int) -> int:
  """The fold before the held-out one (1 -> 5): early stopping watches it."""
  return (held_out - 2) % len(FOLDS) + 1


@dataclasses.dataclass
class Embeddings:
  """Every embedded patch, with its clip, fold and class index."""
  # The classes chosen (`all` resolved by ExampleGen), in label order.
  classes: List[str]
  embedding: np.ndarray
  label: np.ndarray
  clip_id: np.ndarray
  fold: np.ndarray
  uri: str
  status: str


def compute_embeddings(config: configs.PipelineConfig) -> Embeddings:
  """Runs (or reuses from cache) the embedding stages and reads their output."""
  fingerprint = local_runner.check_inputs(config)
  deployment = pipeline_def.local_deployment(config)
  with local_runner.exclusive_output(config.output_dir):
    local_dag_runner.LocalDagRunner().run(
        pipeline_def.create_embedding_pipeline(config, fingerprint,
                                               deployment))
    run = mlmd_runs.latest_run(deployment.metadata_connection_config,
                               config.pipeline_name)
  artifact = run.single(nodes.EMBEDDING_GEN, embedding_gen.EMBEDDINGS_KEY)
  columns = record_files.read_columns(
      examples_io.fold_files(artifact, FOLDS), _EMBEDDING_SPEC)
  classes = mlmd_runs.json_property(
      run.single(nodes.EXAMPLE_GEN, keys.EXAMPLES_KEY), properties.CLASSES)
  index = {name: i for i, name in enumerate(classes)}
  return Embeddings(
      classes=classes,
      embedding=columns[patches.EMBEDDING],
      label=np.array([index[record_files.decode(name)]
                      for name in columns[patches.LABEL]], np.int64),
      clip_id=np.array([record_files.decode(c)
                        for c in columns[patches.CLIP_ID]]),
      fold=columns[patches.FOLD].astype(np.int64),
      uri=artifact.uri,
      status=run.nodes[nodes.EMBEDDING_GEN].status)


def clip_scores(patch_scores: np.ndarray, clip_ids: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray]:
  """(clip ids, scores averaged over each clip's patches), ids sorted."""
  ids, inverse = np.unique(clip_ids, return_inverse=True)
  sums = np.zeros((len(ids), patch_scores.shape[1]))
  np.add.at(sums, inverse, patch_scores)
  return ids, sums / np.bincount(inverse)[:, None]


def clip_predictions(patch_scores: np.ndarray, clip_ids: np.ndarray,
                     labels: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(clip ids, their labels, argmax of their patch-averaged scores)."""
  ids, scores = clip_scores(patch_scores, clip_ids)
  _, first_patch = np.unique(clip_ids, return_index=True)
  return ids, labels[first_patch], scores.argmax(axis=1)


def fold_masks(folds: np.ndarray, held_out: int
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Patch masks (train, validation, test) of the round holding out a fold."""
  validate = validation_fold(held_out)
  masks = (~np.isin(folds, [held_out, validate]), folds == validate,
           folds == held_out)
  if not all(mask.any() for mask in masks):
    raise ValueError(
        f'fold {held_out}: every fold needs embedded clips (train, validation '
        f'fold {validate}, test: {[int(m.sum()) for m in masks]} patches)')
  return masks


def probe_log_probabilities(train_x, train_y, test_x,
                            num_classes: int) -> np.ndarray:
  """Per-patch log-probabilities of a standardised logistic regression.

  A class absent from the training folds gets -inf, so it is never predicted.
  """
  probe = sklearn_pipeline.make_pipeline(
      preprocessing.StandardScaler(),
      linear_model.LogisticRegression(max_iter=1000))
  probe.fit(train_x, train_y)
  # log_softmax of the decision values is predict_log_proba without its
  # underflow to log(0) for confidently wrong classes.
  logits = probe.decision_function(test_x)
  if logits.ndim == 1:  # Two classes: one logit, of the second class.
    logits = np.stack([np.zeros_like(logits), logits], axis=1)
  scores = np.full((len(test_x), num_classes), -np.inf)
  scores[:, probe.classes_] = special.log_softmax(logits, axis=1)
  return scores


def pairs(data: Embeddings, mask: np.ndarray) -> tf.data.Dataset:
  """The (embedding, label) pairs fit_head takes, of the masked patches."""
  return tf.data.Dataset.from_tensor_slices((data.embedding[mask],
                                             data.label[mask]))


def head_clip_predictions(head, data: Embeddings, mask: np.ndarray
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """clip_predictions of a trained head on the masked patches' clips (scores
  averaged over each clip's patches, as the served model does)."""
  return clip_predictions(
      head(data.embedding[mask], training=False).numpy(), data.clip_id[mask],
      data.label[mask])


def head_clip_accuracy(head, data: Embeddings, mask: np.ndarray) -> float:
  """Clip accuracy of a trained head on the masked patches' clips."""
  _, labels, predicted = head_clip_predictions(head, data, mask)
  return float(np.mean(predicted == labels))


def _fold_predictions(data: Embeddings, held_out: int, num_classes: int,
                      hyperparameters: hp.Hyperparameters) -> Dict[str, Any]:
  train, val, test = fold_masks(data.fold, held_out)
  head, epochs = model_module.fit_head(
      pairs(data, train), pairs(data, val), num_classes, hyperparameters)
  ids, labels, head_predicted = head_clip_predictions(head, data, test)
  _, _, probe_predicted = clip_predictions(
      probe_log_probabilities(data.embedding[train], data.label[train],
                              data.embedding[test], num_classes),
      data.clip_id[test], data.label[test])
  return {
      'fold': held_out, 'validation_fold': validation_fold(held_out),
      'epochs': epochs, 'clip_id': ids, 'label': labels,
      'head': head_predicted, 'probe': probe_predicted,
  }


def _mean_std(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
  if not values:
    return None, None
  return float(np.mean(values)), float(np.std(values))


def summarize(folds: List[Dict[str, Any]], classes: Sequence[str]
             ) -> Dict[str, Any]:
  """Clip accuracy per fold, mean and std over folds, overall and per class."""
  result: Dict[str, Any] = {'per_fold': [], 'per_class': {}, 'predictions': []}
  for fold in folds:
    result['per_fold'].append({
        'fold': fold['fold'], 'validation_fold': fold['validation_fold'],
        'epochs': fold['epochs'], 'clips': len(fold['clip_id']),
        'clip_accuracy': float(np.mean(fold['head'] == fold['label'])),
        'probe_clip_accuracy': float(np.mean(fold['probe'] == fold['label'])),
    })
    result['predictions'].extend(
        {'clip_id': str(clip), 'fold': fold['fold'], 'label': classes[label],
         'head': classes[head], 'probe': classes[probe]}
        for clip, label, head, probe in zip(fold['clip_id'], fold['label'],
                                            fold['head'], fold['probe']))
  for key, name in (('clip_accuracy', ''), ('probe_clip_accuracy', 'probe_')):
    result[f'{name}mean_clip_accuracy'], result[f'{name}std_clip_accuracy'] = (
        _mean_std([f[key] for f in result['per_fold']]))
  for index, class_name in enumerate(classes):
    of_class = [(f, f['label'] == index) for f in folds
                if np.any(f['label'] == index)]
    facts = {'clips': int(sum(mask.sum() for _, mask in of_class))}
    for key, name in (('head', ''), ('probe', 'probe_')):
      facts[f'{name}clip_accuracy'], facts[f'{name}std_clip_accuracy'] = (
          _mean_std([float(np.mean(f[key][mask] == index))
                     for f, mask in of_class]))
    result['per_class'][class_name] = facts
  return result


def cross_validate(config: configs.PipelineConfig) -> Dict[str, Any]:
  """Embeds once, then trains and tests the head and the probe per fold."""
  return evaluate_folds(compute_embeddings(config), config)


def evaluate_folds(data: Embeddings,
                   config: configs.PipelineConfig) -> Dict[str, Any]:
  """The five train/test rounds on embeddings already computed."""
  hyperparameters = config.hyperparameters
  logging.info('Cross-validation on %d patches of %d clips (embeddings %s)',
               len(data.label), len(np.unique(data.clip_id)), data.status)
  folds = []
  for held_out in FOLDS:
    folds.append(_fold_predictions(data, held_out, len(data.classes),
                                   hyperparameters))
    logging.info('Fold %d: head %.3f, probe %.3f', held_out,
                 np.mean(folds[-1]['head'] == folds[-1]['label']),
                 np.mean(folds[-1]['probe'] == folds[-1]['label']))
  return {
      'classes': list(data.classes),
      'yamnet_handle': config.yamnet_handle,
      'embeddings': {'uri': data.uri, 'status': data.status,
                     'clips': int(len(np.unique(data.clip_id))),
                     'patches': int(len(data.label))},
      'hyperparameters': hyperparameters.to_custom_config(),
      **summarize(folds, data.classes),
      'reference': REFERENCE,
  }


def _pm(mean: Optional[float], std: Optional[float]) -> str:
  return '   n/a       ' if mean is None else f'{mean:.3f} +/- {std:.3f}'


def format_result(result: Dict[str, Any]) -> str:
  """Per-fold and per-class tables, for the terminal."""
  embeddings = result['embeddings']
  computed = ('served from cache' if embeddings['status'] == 'cached' else
              'computed once')
  lines = [
      f"Cross-validation, {len(result['classes'])} classes, 5 ESC-50 folds "
      f"(YAMNet {result['yamnet_handle']})",
      f"Embeddings: {embeddings['clips']} clips, {embeddings['patches']} "
      f"patches, {computed} ({embeddings['uri']})",
      '',
      'held-out  validation  clips  epochs  head   probe   (clip accuracy)',
  ]
  for fold in result['per_fold']:
    lines.append(
        f"  {fold['fold']:6d}  {fold['validation_fold']:10d}  "
        f"{fold['clips']:5d}  {fold['epochs']:6d}  "
        f"{fold['clip_accuracy']:.3f}  {fold['probe_clip_accuracy']:.3f}")
  lines += [
      f"Mean +/- std over folds: head "
      f"{_pm(result['mean_clip_accuracy'], result['std_clip_accuracy'])}, "
      'probe ' + _pm(result['probe_mean_clip_accuracy'],
                     result['probe_std_clip_accuracy']),
      '', f"{'class':20s} clips  head            probe"]
  for name, facts in result['per_class'].items():
    lines.append(
        f"{name:20s} {facts['clips']:5d}  "
        f"{_pm(facts['clip_accuracy'], facts['std_clip_accuracy'])}  "
        + _pm(facts['probe_clip_accuracy'], facts['probe_std_clip_accuracy']))
  lines += ['', result['reference'] + '.']
  return '\n'.join(lines)
