"""AtomicPusher: TFX's Pusher with the atomic filesystem push of executor.py."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher import executor


class AtomicPusher(tfx.components.Pusher):
  """Same inputs, parameters and outputs as Pusher; see executor.py."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
