"""TFDS builder `synth_digits`: the offline, SVHN-like printed-digit domain.

Images come from `synth_render.render(seed, split, index)`, so each example
depends only on (seed, split, index); splits are rendered in parallel worker
processes, one per core. Configs (select with `synth_digits/<config>`):

| config    | train  | test   | extra   |
|-----------|--------|--------|---------|
| `default` | 73,257 | 26,032 | 50,000  |
| `full`    | 73,257 | 26,032 | 531,131 |  (SVHN's own split sizes)
| `small`   | 20,000 | 5,000  | 1,000   |  (the CPU quickstart)
| `tiny`    | 512    | 256    | 128     |  (tests)

Other sizes: `tfds.builder('synth_digits', config=SynthDigitsConfig(...))`.
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os

import tensorflow_datasets as tfds

from xdomain.data import synth_render

_CHUNK = 512


@dataclasses.dataclass
class SynthDigitsConfig(tfds.core.BuilderConfig):
  train_size: int = 73_257
  test_size: int = 26_032
  extra_size: int = 50_000
  seed: int = 0


def num_workers() -> int:
  """Worker processes for rendering: $XDOMAIN_DATA_WORKERS or all cores."""
  return int(os.environ.get('XDOMAIN_DATA_WORKERS', os.cpu_count() or 1))


def _render_chunk(args):
  seed, split, start, stop = args
  return start, synth_render.render_range(seed, split, start, stop)


class SynthDigits(tfds.core.GeneratorBasedBuilder):
  """SVHN-like printed digits rendered from matplotlib's fonts."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
      SynthDigitsConfig(name='default', description='SVHN-sized train/test.'),
      SynthDigitsConfig(name='full', extra_size=531_131,
                        description='SVHN-sized train/test/extra.'),
      SynthDigitsConfig(name='small', train_size=20_000, test_size=5_000,
                        extra_size=1_000, description='CPU quickstart.'),
      SynthDigitsConfig(name='tiny', train_size=512, test_size=256,
                        extra_size=128, description='For tests.'),
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(
                shape=(synth_render.IMAGE_SIZE, synth_render.IMAGE_SIZE, 3)),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('image', 'label'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    sizes = {'train': self.builder_config.train_size,
             'test': self.builder_config.test_size,
             'extra': self.builder_config.extra_size}
    return {split: self._generate_examples(split, size)
            for split, size in sizes.items() if size > 0}

  def _generate_examples(self, split: str, size: int):
    seed = self.builder_config.seed
    jobs = [(seed, split, start, min(start + _CHUNK, size))
            for start in range(0, size, _CHUNK)]
    workers = min(num_workers(), len(jobs))
    if workers <= 1:
      results = map(_render_chunk, jobs)
      yield from _examples(results)
      return
    # 'spawn': workers import only numpy/PIL, never the parent's TF threads.
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(workers, context) as pool:
      yield from _examples(pool.map(_render_chunk, jobs))


def _examples(results):
  for start, chunk in results:
    for offset, (image, label) in enumerate(zip(chunk['image'],
                                                chunk['label'])):
      yield start + offset, {'image': image, 'label': int(label)}
