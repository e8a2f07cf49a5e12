"""Runs a compiled Kubeflow V2 pipeline's tasks in Docker containers, as
Kubeflow Pipelines' launcher does on a cluster.

For each container task, in dependency order: the ExecutorInput that the
launcher substitutes for the spec's `{{$}}` placeholder (runtime parameters,
constants, the upstream tasks' output artifacts with the metadata their
executors reported, this task's output URIs under the pipeline root), then
`docker run` of the task's own image, command and arguments. Each task's
executor writes an ExecutorOutput file; the artifacts in it are what the next
tasks receive. Resolver tasks (which query Kubeflow's metadata store) resolve
to nothing, as on a pipeline's first run.
"""

import dataclasses
import json
import os
import subprocess
import time
from typing import Any, Dict, List, Optional, Sequence, Set

EXECUTOR_INPUT_PLACEHOLDER = '{{$}}'
EXECUTOR_OUTPUT_FILE = 'executor_output.json'


@dataclasses.dataclass(frozen=True)
class TaskRun:
  """One task's container run."""
  name: str
  seconds: float
  # Output key -> the RuntimeArtifacts (dicts) the task reported.
  outputs: Dict[str, List[Dict[str, Any]]]


def dependencies(task: Dict[str, Any]) -> Set[str]:
  """The tasks one task runs after: its declared dependencies and the
  producers of its input artifacts (resolvers declare only the latter)."""
  producers = {value['taskOutputArtifact']['producerTask'] for value in
               task.get('inputs', {}).get('artifacts', {}).values()}
  return set(task.get('dependentTasks', [])) | producers


def execution_order(spec: Dict[str, Any]) -> List[str]:
  """Task names with every task after the tasks it depends on."""
  tasks = spec['root']['dag']['tasks']
  order: List[str] = []

  def visit(name: str, path: Sequence[str]) -> None:
    if name in order:
      return
    if name in path:
      raise ValueError(f'dependency cycle through {name}')
    for dependency in sorted(dependencies(tasks[name])):
      visit(dependency, [*path, name])
    order.append(name)

  for name in sorted(tasks):
    visit(name, [])
  return order


class Launcher:
  """Runs one PipelineJob's tasks with `docker run`."""

  def __init__(self, job: Dict[str, Any], docker: Sequence[str],
               mounts: Sequence[str], log_dir: str):
    """docker: the client command; mounts: host paths, each mounted at the
    same path in every container (the pipeline root, data, models)."""
    self._spec = job['pipelineSpec']
    self._runtime = job['runtimeConfig']
    self._docker = list(docker)
    self._mounts = list(mounts)
    self._log_dir = log_dir
    self._outputs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}

  def run(self, until: Optional[str] = None) -> Dict[str, TaskRun]:
    """Runs every task, or those up to and including `until` and what it
    needs, in order; raises on the first task that fails."""
    order = execution_order(self._spec)
    if until is not None:
      needed = self._upstream(until)
      order = [name for name in order if name in needed]
    runs = {}
    for name in order:
      start = time.monotonic()
      self._outputs[name] = self._run_task(name)
      runs[name] = TaskRun(name, time.monotonic() - start, self._outputs[name])
    return runs

  def _upstream(self, name: str) -> Set[str]:
    tasks = self._spec['root']['dag']['tasks']
    needed = {name}
    for dependency in dependencies(tasks[name]):
      needed |= self._upstream(dependency)
    return needed

  def _component(self, name: str) -> Dict[str, Any]:
    task = self._spec['root']['dag']['tasks'][name]
    return self._spec['components'][task['componentRef']['name']]

  def _run_task(self, name: str) -> Dict[str, List[Dict[str, Any]]]:
    component = self._component(name)
    executor = self._spec['deploymentSpec']['executors'][
        component['executorLabel']]
    output_keys = component.get('outputDefinitions', {}).get('artifacts', {})
    if 'container' not in executor:
      # A resolver: nothing blessed yet on a first run.
      return {key: [] for key in output_keys}
    container = executor['container']
    executor_input = self._executor_input(name, component)
    args = [json.dumps(executor_input) if a == EXECUTOR_INPUT_PLACEHOLDER
            else a for a in container.get('args', [])]
    unresolved = [a for a in args if '{{$' in a]
    if unresolved:
      raise ValueError(f'{name}: placeholders this launcher does not fill: '
                       f'{unresolved}')
    volumes = [f'--volume={path}:{path}' for path in self._mounts]
    command = [*self._docker, 'run', '--rm', '--network=none', *volumes,
               container['image'], *container['command'], *args]
    log_path = os.path.join(self._log_dir, f'{name}.log')
    with open(log_path, 'w') as log:
      result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                              check=False)
    if result.returncode:
      with open(log_path) as log:
        tail = log.read()[-3000:]
      raise RuntimeError(f'task {name} exited {result.returncode}:\n{tail}')
    return self._reported_outputs(executor_input)

  def _executor_input(self, name: str,
                      component: Dict[str, Any]) -> Dict[str, Any]:
    task = self._spec['root']['dag']['tasks'][name]
    inputs = task.get('inputs', {})
    parameters = {key: self._parameter_value(value) for key, value in
                  inputs.get('parameters', {}).items()}
    artifacts = {}
    for key, value in inputs.get('artifacts', {}).items():
      reference = value['taskOutputArtifact']
      artifacts[key] = {'artifacts': self._outputs[reference['producerTask']][
          reference['outputArtifactKey']]}
    task_root = os.path.join(self._runtime['gcsOutputDirectory'], name)
    outputs = {}
    for key, definition in component.get('outputDefinitions', {}).get(
        'artifacts', {}).items():
      outputs[key] = {'artifacts': [{
          'name': f'{name}/{key}',
          'type': definition['artifactType'],
          'uri': os.path.join(task_root, key),
          'metadata': {},
      }]}
    return {
        'inputs': {'parameterValues': parameters, 'artifacts': artifacts},
        'outputs': {'artifacts': outputs,
                    'outputFile': os.path.join(task_root,
                                               EXECUTOR_OUTPUT_FILE)},
    }

  def _parameter_value(self, value: Dict[str, Any]) -> Any:
    if 'componentInputParameter' in value:
      return self._runtime['parameterValues'][value['componentInputParameter']]
    return value['runtimeValue']['constant']

  @staticmethod
  def _reported_outputs(
      executor_input: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """The output artifacts with the metadata the executor reported."""
    with open(executor_input['outputs']['outputFile']) as f:
      reported = json.load(f).get('artifacts', {})
    outputs = {}
    for key, given in executor_input['outputs']['artifacts'].items():
      artifact = dict(given['artifacts'][0])
      for runtime_artifact in reported.get(key, {}).get('artifacts', []):
        artifact['metadata'] = runtime_artifact.get('metadata', {})
      outputs[key] = [artifact]
    return outputs
