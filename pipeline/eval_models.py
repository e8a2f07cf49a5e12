"""How the Evaluators load the classifier: TFMA's own loader, with each
signature callable the way TFMA calls it.

TFMA hands a signature that takes serialized Examples its batch as the one
positional argument. A SavedModel's signatures bind arguments by keyword
only, so TF first fails to bind that call, builds an error message that
prints the whole batch (every clip's audio, for the gate), and only then
runs it through the signature's flat arguments. The wrapper here passes a
one-input signature's positional argument by keyword, so the same function
runs without that detour (docs/performance.md has what it cost).

The Evaluators name this module as their `module_path`: TFX's Evaluator
calls its `custom_eval_shared_model` for the candidate and the baseline.
"""

from typing import Any, Dict, Optional

import tensorflow_model_analysis as tfma


class _KeywordSignature:
  """A loaded signature that takes its one input by position or keyword."""

  def __init__(self, function):
    self._function = function
    self.structured_input_signature = function.structured_input_signature
    names = list(function.structured_input_signature[1])
    self._only_input = names[0] if len(names) == 1 else None

  def __call__(self, *args, **kwargs):
    if len(args) == 1 and not kwargs and self._only_input:
      return self._function(**{self._only_input: args[0]})
    return self._function(*args, **kwargs)


class _KeywordSignatures:
  """A loaded SavedModel whose signatures are each a _KeywordSignature; every
  other attribute is the loaded model's."""

  def __init__(self, loaded):
    self._loaded = loaded
    self.signatures: Dict[str, _KeywordSignature] = {
        name: _KeywordSignature(function)
        for name, function in loaded.signatures.items()}

  def __getattr__(self, name: str) -> Any:
    return getattr(self._loaded, name)


class _KeywordLoading:
  """A model loader's construct_fn whose model is wrapped; a class, so Beam
  pickles it with the loader."""

  def __init__(self, construct_fn):
    self._construct_fn = construct_fn

  def __call__(self) -> _KeywordSignatures:
    return _KeywordSignatures(self._construct_fn())


def custom_eval_shared_model(eval_saved_model_path: str, model_name: str,
                             eval_config: Optional[tfma.EvalConfig],
                             **kwargs) -> tfma.types.EvalSharedModel:
  """TFMA's default shared model, loaded as _KeywordSignatures."""
  shared = tfma.default_eval_shared_model(
      eval_saved_model_path=eval_saved_model_path, model_name=model_name,
      eval_config=eval_config, **kwargs)
  loader = shared.model_loader
  return shared._replace(model_loader=tfma.types.ModelLoader(
      construct_fn=_KeywordLoading(loader.construct_fn), tags=loader.tags))
