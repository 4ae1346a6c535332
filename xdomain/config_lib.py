"""Shared config pieces and validation.

Config files in `configs/` start from `base_config()` and fill in their
method's sections. Sections: `data` (source/target domains, TFDS dirs,
resizing), `model`, `optim.<group>`, `eval`, `export`, plus the Flax-examples
run-length names (`num_train_steps`, `log_every_steps`, `eval_every_steps`,
`checkpoint_every_steps`). Unknown keys are rejected by ml_collections when a
config is locked (as `xdomain.main` does) and by `validate`.
"""

import json
import os

import ml_collections

from xdomain import errors

# data.resize_method values -> tf.image.resize method names.
RESIZE_METHODS = {'lanczos': 'lanczos3', 'lanczos3': 'lanczos3',
                  'bilinear': 'bilinear'}


def domain(name: str = '', train_split: str = 'train',
           test_split: str = 'test') -> ml_collections.ConfigDict:
  """One image domain: a TFDS name (or prepared dir), its split names, and
  labels left out of its training batches (`exclude_labels`, e.g. (3,)
  for DTN's unseen-digit experiment; evaluation keeps every label)."""
  return ml_collections.ConfigDict(
      {'name': name, 'train_split': train_split, 'test_split': test_split,
       'exclude_labels': ()})


def optimizer(name: str = 'adam', learning_rate: float = 1e-3,
              schedule: str = 'constant', warmup_steps: int = 0,
              b1: float = 0.9, b2: float = 0.999, weight_decay: float = 0.0,
              grad_clip_norm: float = 0.0,
              weight_clip: float = 0.0) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, schedule=schedule,
      warmup_steps=warmup_steps, b1=b1, b2=b2, weight_decay=weight_decay,
      grad_clip_norm=grad_clip_norm, weight_clip=weight_clip))


def classifier_model(variant: str = 'maxpool',
                     batch_norm: bool = False) -> ml_collections.ConfigDict:
  """The DTN digits encoder family (see xdomain.models.classifiers)."""
  return ml_collections.ConfigDict(dict(
      variant=variant, batch_norm=batch_norm, features=(64, 128, 256, 128),
      feature_activation='relu', num_classes=10))


def classifier_config(dataset: str, num_train_steps: int, batch: int,
                      variant: str = 'strided', batch_norm: bool = False,
                      feature_activation: str = 'relu',
                      augment_translate: int = 0, cross_domain=(),
                      warmup_steps: int = -1) -> ml_collections.ConfigDict:
  """A classifier of f's family trained on `dataset`'s labels (f itself,
  or a target evaluator): Adam 1e-3, cosine decay after a linear warm-up
  (`warmup_steps`, -1 = 10 % of the run)."""
  config = base_config()
  config.method = 'classifier'
  config.data.source = domain(dataset, 'train', 'test')
  config.data.augment_translate = augment_translate
  config.model.variant = variant
  config.model.batch_norm = batch_norm
  config.model.feature_activation = feature_activation
  config.optim.clf = optimizer('adam', 1e-3, schedule='cosine',
                               warmup_steps=(num_train_steps // 10
                                             if warmup_steps < 0
                                             else warmup_steps))
  config.per_device_batch_size = batch
  set_run_length(config, num_train_steps, log_every=100,
                 eval_every=num_train_steps, checkpoint_every=num_train_steps)
  config.eval.cross_domain = tuple(cross_domain)
  return config


def evaluator_config(dataset: str, num_train_steps: int = 2000,
                     augment_translate: int = 2) -> ml_collections.ConfigDict:
  """The evaluator every translation method scores with: f's strided
  family, batch 128, 200 warm-up steps, trained on `dataset`'s training
  labels only. Methods whose configs share an evaluator's workdir must
  build it here, so that its config is one."""
  return classifier_config(dataset, num_train_steps, 128, variant='strided',
                           augment_translate=augment_translate,
                           warmup_steps=200)


def load_config_file(path: str, variant: str = '') -> ml_collections.ConfigDict:
  """A config file's get_config(variant), as `--config=path:variant` loads
  it (e.g. one config naming another as its prerequisite)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant) if variant else module.get_config()


def with_prerequisites(config: ml_collections.ConfigDict,
                       **prerequisites) -> ml_collections.ConfigDict:
  """Sets `config.prerequisites` from name=(workdir, config) pairs:
  `xdomain.main` trains each one whose export (<workdir>/classifier) is
  missing before the run itself, passing on data.data_dir/manual_dir."""
  config.prerequisites = ml_collections.ConfigDict({
      name: {'workdir': workdir, 'config': pre}
      for name, (workdir, pre) in prerequisites.items()})
  return config


def base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = ''
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.source = domain()
  config.data.target = domain()
  config.data.data_dir = ''  # '' = TFDS default ($TFDS_DATA_DIR)
  config.data.manual_dir = ''  # '' = <data_dir>/downloads/manual
  config.data.download = 'auto'  # 'auto' | 'never' | 'always'
  config.data.resize_method = 'lanczos3'  # or 'bilinear'
  config.data.shuffle_buffer = 50_000
  config.data.cache = True
  config.data.augment_translate = 0  # max random shift in pixels, 0 = off
  # Training images randomly made grey and/or inverted (p = 1/2 each).
  config.data.augment_grey_invert = False
  # Shape augmentation (xdomain.data.pipeline.augment_shape): random
  # rotation / shear up to that many degrees, scale by 1 +- augment_scale,
  # and a random 3x3 dilation or erosion of the strokes; 0 / False = off.
  config.data.augment_rotate = 0.0
  config.data.augment_shear = 0.0
  config.data.augment_scale = 0.0
  config.data.augment_stroke = False
  # With p = 1/2 a training image is shrunk to a random side in
  # [augment_low_resolution, 31] (area) and resized back to 32 with
  # data.resize_method: a classifier that also reads blurred, low-resolution
  # digits (e.g. uci_digits' 8x8 upscales); 0 = off.
  config.data.augment_low_resolution = 0

  config.model = classifier_model()
  config.optim = ml_collections.ConfigDict()

  config.per_device_batch_size = 128
  config.num_train_steps = 1000
  config.log_every_steps = 100
  config.eval_every_steps = 1000
  config.checkpoint_every_steps = 1000

  config.eval = ml_collections.ConfigDict()
  config.eval.per_device_batch_size = 500
  config.eval.limit = 0  # examples per eval split, 0 = all
  config.eval.cross_domain = ()  # extra 'name:split' datasets to score on

  config.export = ml_collections.ConfigDict()
  config.export.path = ''  # '' = <workdir>/classifier
  return config


def set_run_length(config: ml_collections.ConfigDict, num_train_steps: int,
                   log_every: int, eval_every: int,
                   checkpoint_every: int) -> ml_collections.ConfigDict:
  """Sets the Flax-examples run-length fields in one call."""
  config.num_train_steps = num_train_steps
  config.log_every_steps = log_every
  config.eval_every_steps = eval_every
  config.checkpoint_every_steps = checkpoint_every
  return config


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks values early, before any data is read or anything compiles."""
  positive = ('per_device_batch_size', 'num_train_steps', 'log_every_steps',
              'eval_every_steps', 'checkpoint_every_steps')
  for key in positive:
    if int(config[key]) <= 0:
      raise errors.ConfigError(
          f'config.{key} must be positive, got {config[key]}')
  if not config.data.source.name:
    raise errors.ConfigError(
        'config.data.source.name is empty: name the TFDS dataset of the '
        'source domain (e.g. synth_digits).')
  from xdomain.models import classifiers  # pylint: disable=g-import-not-at-top
  if 'variant' in config.model and (
      config.model.variant not in classifiers.VARIANTS):
    raise errors.ConfigError(
        f'config.model.variant must be one of {classifiers.VARIANTS}, got '
        f'{config.model.variant!r}')
  if config.data.resize_method not in RESIZE_METHODS:
    raise errors.ConfigError(
        f'config.data.resize_method must be one of {sorted(RESIZE_METHODS)}, '
        f'got {config.data.resize_method!r}')
  for dataset in config.eval.cross_domain:
    if ':' not in dataset:
      raise errors.ConfigError(
          f"config.eval.cross_domain entries are 'name:split', got "
          f'{dataset!r}')


def apply_variant(config: ml_collections.ConfigDict, variant: str,
                   tiny, **others) -> ml_collections.ConfigDict:
  """'' (the config as is), 'tiny' (`tiny(config)`, for tests) or one of
  the method's `others` (name -> function of the config)."""
  variants = {'tiny': tiny, **others}
  if variant in variants:
    return variants[variant](config)
  if variant:
    raise ValueError(f'Unknown variant {variant!r}; known: '
                     f'{", ".join(sorted(variants))}')
  return config


def cpu_run(config: ml_collections.ConfigDict,
            groups=()) -> ml_collections.ConfigDict:
  """What the translation methods' `:cpu` variants share: batch 32, 2,000
  iterations (log every 50, evaluate every 1,000, checkpoint every 500),
  and a cosine decay of the learning rates of `groups`."""
  config.per_device_batch_size = 32
  for group in groups:
    config.optim[group].schedule = 'cosine'
  set_run_length(config, 2000, log_every=50, eval_every=1000,
                 checkpoint_every=500)
  return config


def translation_tiny(
    config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """What every translation method's `:tiny` variant shares: tiny data
  (synth_digits/tiny -> uci_digits) and networks, 3 steps, small evals."""
  config.data.source = domain('synth_digits/tiny', 'train', 'test')
  config.data.target = domain('uci_digits', 'train', 'test')
  config.model.g.widths = (32, 16, 8)
  config.model.d.widths = (8, 16, 32)
  config.per_device_batch_size = 8
  set_run_length(config, 3, log_every=1, eval_every=3, checkpoint_every=3)
  config.eval.per_device_batch_size = 64
  config.eval.limit = 64
  config.eval.grid_rows = 2
  config.eval.grid_cols = 4
  return config


def tiny_prerequisites(config: ml_collections.ConfigDict,
                       renames) -> ml_collections.ConfigDict:
  """A `:tiny` config's prerequisites at test size, on the tiny domains:
  `renames` maps the real domain names to the tiny ones (synth_digits
  becomes synth_digits/tiny in any case)."""
  for pre in config.get('prerequisites', {}).values():
    source = pre.config.data.source
    source.name = renames.get(source.name, source.name)
    classifier_tiny(pre.config)
  return config


def classifier_tiny(
    config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A prerequisite classifier at test size: tiny data, 4 steps."""
  if config.data.source.name.startswith('synth_digits'):
    config.data.source.name = 'synth_digits/tiny'
  config.eval.cross_domain = ()
  config.per_device_batch_size = 16
  set_run_length(config, 4, log_every=2, eval_every=4, checkpoint_every=4)
  config.eval.per_device_batch_size = 64
  config.eval.limit = 128
  return config


def differences_from_saved(workdir: str, config: ml_collections.ConfigDict):
  """`config_differences` between <workdir>/config.json and `config` (as
  that file would hold it); [] where the workdir has no config.json."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    saved = json.load(f)
  current = json.loads(json.dumps(config.to_dict(), sort_keys=True))
  return config_differences(saved, current)


def summarize_differences(differences, most: int = 5) -> str:
  """The first `most` differences, '; '-joined, '; ...' if there are more."""
  return '; '.join(differences[:most]) + (
      '; ...' if len(differences) > most else '')


def config_differences(saved, current, prefix=''):
  """Dotted keys whose values differ between two config dicts (as
  config.json holds them). A key the saved config lacks counts as the same
  when it is off now (0, False, '', empty): a switch added since that run
  was saved, whose default keeps the old behaviour."""
  out = []
  for key in sorted(set(saved) | set(current)):
    a, b = saved.get(key, '<absent>'), current.get(key, '<absent>')
    if isinstance(a, dict) and isinstance(b, dict):
      out += config_differences(a, b, f'{prefix}{key}.')
    elif key not in saved and not isinstance(b, dict) and not b:
      continue
    elif a != b:
      out.append(f'{prefix}{key}: {a!r} there, {b!r} now')
  return out
