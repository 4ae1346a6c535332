r"""Pretrain DTN's f on synth_digits (the offline SVHN stand-in).

  python -m xdomain.main --config=configs/pretrain_f_synth.py --workdir=runs/f_synth \
      [--config.data.manual_dir=../shared/data/mnist]

Exports f to <workdir>/classifier; reports synth_digits test accuracy and,
as SIGAN Table 1's "source only" row, MNIST test accuracy. MNIST is built
offline from the four raw files in data.manual_dir (default: TFDS's
<data_dir>/downloads/manual); without them that extra evaluation is skipped
with a warning naming the files.
Variant `:tiny` runs a few steps on synth_digits/tiny (tests, CI).
"""

from xdomain import config_lib


def get_config(variant: str = ''):
  config = config_lib.base_config()
  config.method = 'classifier'
  config.data.source = config_lib.domain('synth_digits', 'train', 'test')
  config.optim.clf = config_lib.optimizer('adam', 1e-3, schedule='cosine',
                                          warmup_steps=200)
  config.per_device_batch_size = 128
  config_lib.set_run_length(config, 1500, log_every=100, eval_every=500,
                            checkpoint_every=500)
  config.eval.cross_domain = ('mnist:test',)
  if variant == 'tiny':
    config.data.source.name = 'synth_digits/tiny'
    config.per_device_batch_size = 16
    config_lib.set_run_length(config, 6, log_every=2, eval_every=6,
                              checkpoint_every=3)
    config.eval.per_device_batch_size = 64
    config.eval.limit = 128
  elif variant:
    raise ValueError(f'Unknown variant {variant!r}; known: tiny')
  return config
