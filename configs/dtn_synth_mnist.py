r"""DTN, synth_digits -> MNIST (offline stand-in for the paper's SVHN -> MNIST).

  python -m xdomain.main --config=configs/dtn_synth_mnist.py:cpu --workdir=runs/dtn_synth_mnist_cpu \
      --config.data.manual_dir=../shared/data/mnist

One command does everything: the prerequisites it does not find are trained
first -- f on synth_digits train (-> runs/f_synth_bn_tanh) and the MNIST
evaluator on MNIST train only (-> runs/eval_mnist_strided) -- then DTN.
Sizes: '' (this file as is) the paper's networks (g 512/256/128, D
128/256/512, batch 128, 20,000 steps) for GPU/TPU; ':cpu' half-width
networks, batch 64, 1,500 steps (<= 10 min of DTN training on 2 CPU
cores); ':tiny' for tests. Both real sizes use the same recipe
(`config_lib.dtn_recipe`).

The recipe, measured at the :cpu size (see README "DTN results"):
- f with batch norm and tanh-bounded features (`config_lib.dtn_f_config`).
  With the paper's maxpool f and unbounded ReLU features, g had to match
  features of any scale and D won from step 50: 19-39 %.
- a binary D, two g updates per D update, Adam 3e-4 for both;
- evaluation reads an exponential moving average of g (decay 0.999), which
  removes the swings of the raw g between evaluations.
The paper's choices stay switches:
  --config.model.d.ternary=True --config.schedule="('disc','gen')"
  --config.optim.disc.learning_rate=2e-4 --config.optim.gen.learning_rate=2e-4
  --config.model.g.ema_decay=0                    raw g
  --config.model.d.skip_above_accuracy=0.9        thresholded D (XGAN slides)
  --config.prerequisites.f.config.model.variant=maxpool   the paper's f
Ablations (DTN Table 1 style) are overrides:
  --config.loss.beta=0            without L_TID
  --config.loss.alpha=0           without L_CONST
  --config.loss.gan_weight=0      without the GAN terms
  --config.model.d.ternary=True   ternary instead of binary D
  --config.model.generator_input=pixels --config.loss.beta=0 \
  --config.loss.target_through_g=False   the Sec. 3 baseline
"""

from xdomain import config_lib

F_WORKDIR = 'runs/f_synth_bn_tanh'
EVALUATOR_WORKDIR = 'runs/eval_mnist_strided'


def get_config(variant: str = ''):
  config = config_lib.dtn_config(
      source=config_lib.domain('synth_digits', 'train', 'test'),
      target=config_lib.domain('mnist', 'train', 'test'),
      f_checkpoint=f'{F_WORKDIR}/classifier',
      evaluator_checkpoint=f'{EVALUATOR_WORKDIR}/classifier')
  config_lib.with_prerequisites(
      config,
      f=(F_WORKDIR, config_lib.dtn_f_config(
          'synth_digits', 'mnist:test', num_train_steps=1500, batch=128,
          variant='strided', warmup_steps=200)),
      evaluator=(EVALUATOR_WORKDIR, config_lib.classifier_config(
          'mnist', num_train_steps=2000, batch=128, variant='strided',
          augment_translate=2, warmup_steps=200)))
  config_lib.dtn_recipe(config)
  return config_lib.dtn_variant(config, variant)
