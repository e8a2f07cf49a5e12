"""The project's packages import one way, and no module imports itself back.

Layers, lowest first: data (audio, datasets, Example layouts) -> yamnet (the
model's loader, stand-in and patch layout) -> serving (the exported module and
its contract) -> models (Transform and Trainer module files) -> components ->
pipeline (definition, runners, command line, reporting). A module may import
its own layer and those below; every import counts, also one inside a
function, since it runs all the same.
"""

import ast
import pathlib
from typing import Dict, Iterator, Set, Tuple

import pytest

from conftest import REPO_ROOT

LAYERS = ('data', 'yamnet', 'serving', 'models', 'components', 'pipeline')


def _module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(REPO_ROOT).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


def _modules() -> Dict[str, pathlib.Path]:
  return {_module_name(path): path for layer in LAYERS
          for path in sorted((REPO_ROOT / layer).rglob('*.py'))}


def _imported(tree: ast.AST, modules: Dict[str, pathlib.Path]
             ) -> Iterator[Tuple[str, int]]:
  """(project module, line) of every import in the tree."""
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split('.')[0] in LAYERS:
          yield alias.name, node.lineno
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and (
        node.module and node.module.split('.')[0] in LAYERS):
      for alias in node.names:
        submodule = f'{node.module}.{alias.name}'
        yield (submodule if submodule in modules else node.module,
               node.lineno)


def import_graph() -> Dict[str, Dict[str, int]]:
  """module -> {imported project module: line}."""
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    graph[name] = {target: line for target, line in _imported(tree, modules)
                   if target != name}
  return graph


def _rank(module: str) -> int:
  return LAYERS.index(module.split('.')[0])


def upward_imports(graph) -> Set[str]:
  return {f'{source}:{line} imports {target}'
          for source, targets in graph.items()
          for target, line in targets.items()
          if _rank(target) > _rank(source)}


def cycles(graph) -> Set[Tuple[str, ...]]:
  """The strongly connected groups of more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), set()

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for target in graph.get(node, {}):
      if target not in index:
        visit(target)
        low[node] = min(low[node], low[target])
      elif target in on_stack:
        low[node] = min(low[node], index[target])
    if low[node] == index[node]:
      group = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        group.append(member)
        if member == node:
          break
      if len(group) > 1:
        found.add(tuple(sorted(group)))

  for node in graph:
    if node not in index:
      visit(node)
  return found


@pytest.fixture(scope='module')
def graph():
  return import_graph()


def test_every_layer_is_a_package_with_modules(graph):
  assert {module.split('.')[0] for module in graph} == set(LAYERS)


def test_no_module_imports_a_layer_above_it(graph):
  assert upward_imports(graph) == set()


def test_no_import_cycles(graph):
  assert cycles(graph) == set()


def test_the_checks_find_what_they_look_for():
  """The checks on a made-up graph, so that they cannot pass vacuously."""
  made_up = {'data.a': {'serving.b': 3}, 'serving.b': {'data.a': 1},
             'models.c': {'models.d': 1}, 'models.d': {'models.c': 2}}
  assert upward_imports(made_up) == {'data.a:3 imports serving.b'}
  assert cycles(made_up) == {('data.a', 'serving.b'),
                             ('models.c', 'models.d')}


def test_the_yamnet_loader_lives_outside_components():
  assert not (REPO_ROOT / 'components' / 'yamnet').exists()
  assert (REPO_ROOT / 'yamnet' / 'loader.py').is_file()
