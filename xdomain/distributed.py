"""Multi-host start-up: `jax.distributed.initialize` when a run spans hosts.

Each process of a multi-host run calls `initialize` before anything else
touches JAX. Where the process group comes from, in order:
  1. `--coordinator_address`, `--num_processes`, `--process_id` flags
     (`xdomain.main`), or
  2. the environment variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES,
     JAX_PROCESS_ID, or
  3. a cluster JAX detects itself (Cloud TPU pod slices, Slurm, Open MPI):
     all arguments left to `jax.distributed.initialize()`.
Otherwise the run is single-process and nothing is initialised. On CPU the
processes talk through gloo (JAX's CPU collectives).

After start-up every process runs the same loop on its own data shard
(`pipeline.host_shard`): pmap's axis spans the devices of all processes,
so gradients and batch norm statistics are averaged over the global batch;
process 0 writes logs, metrics, images and exports; all processes take part
in Orbax checkpointing.
"""

import dataclasses
import os
from typing import Mapping, Optional

from absl import logging

from xdomain import errors

ENV_ADDRESS = 'JAX_COORDINATOR_ADDRESS'
ENV_NUM_PROCESSES = 'JAX_NUM_PROCESSES'
ENV_PROCESS_ID = 'JAX_PROCESS_ID'


@dataclasses.dataclass(frozen=True)
class ProcessGroup:
  """How to call `jax.distributed.initialize` (None fields: auto-detect)."""
  coordinator_address: Optional[str] = None
  num_processes: Optional[int] = None
  process_id: Optional[int] = None


def _is_cluster(environ: Mapping[str, str]) -> bool:
  """True on a cluster JAX detects by itself with more than one process."""
  tpu_hosts = environ.get('TPU_WORKER_HOSTNAMES', '')
  if ',' in tpu_hosts:  # a multi-host Cloud TPU slice
    return True
  if int(environ.get('SLURM_NTASKS', '1') or 1) > 1:
    return True
  return int(environ.get('OMPI_COMM_WORLD_SIZE', '1') or 1) > 1


def process_group(coordinator_address: str = '', num_processes: int = 0,
                  process_id: int = -1,
                  environ: Optional[Mapping[str, str]] = None
                  ) -> Optional[ProcessGroup]:
  """The process group this run belongs to; None for a single process.

  Flags win over the environment; unset flags are '', 0 and -1.
  """
  environ = os.environ if environ is None else environ
  address = coordinator_address or environ.get(ENV_ADDRESS, '')
  count = num_processes or int(environ.get(ENV_NUM_PROCESSES, '0') or 0)
  index = process_id if process_id >= 0 else int(
      environ.get(ENV_PROCESS_ID, '-1') or -1)
  if address:
    if count < 1 or not 0 <= index < count:
      raise errors.ConfigError(
          f'Multi-host run with coordinator {address!r} needs the number of '
          f'processes and this process\'s id in [0, n): got num_processes='
          f'{count}, process_id={index}. Pass --num_processes=N '
          f'--process_id=I (or set {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID}).')
    return ProcessGroup(address, count, index)
  if count > 1 or index >= 0:
    raise errors.ConfigError(
        f'num_processes={count} / process_id={index} given without a '
        f'coordinator address: pass --coordinator_address=HOST:PORT (process '
        f'0\'s address) or set {ENV_ADDRESS}.')
  if _is_cluster(environ):
    return ProcessGroup()
  return None


def initialize(group: Optional[ProcessGroup]) -> None:
  """Starts JAX's distributed runtime for `group` (no-op for None)."""
  if group is None:
    return
  import jax  # pylint: disable=g-import-not-at-top
  # CPU processes exchange collectives through gloo (no effect on GPU/TPU
  # computations).
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(group.coordinator_address, group.num_processes,
                             group.process_id)
  logging.info('Process %d of %d; %d local and %d global devices.',
               jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())
