"""Loss functions, pure and batch-averaged. Equations cite the papers' notes.

DTN (Taigman et al. 2017), with D's softmax over three classes
D1 = G(source), D2 = G(target), D3 = real target:
  L_D    = -E_s log D1(G(x)) - E_t log D2(G(x)) - E_t log D3(x)
  L_GANG = -E_s log D3(G(x)) - E_t log D3(G(x))
  L_CONST = d(f(x), f(G(x))) on source, d = MSE
  L_TID   = d2(x, G(x)) on target, d2 = MSE
  L_TV    = total variation of generated images
The binary-D ablation replaces the ternary softmax by a sigmoid real/fake
discriminator with the same structure (fakes -> 0, real target -> 1; G wants
its fakes -> 1).

CycleGAN (Zhu et al. 2017): least-squares GAN losses (its Sec. 4, after Mao
et al.'s LSGAN) and L1 cycle / identity distances (its eqs. 2 and 6).
"""

import jax
import jax.numpy as jnp
import optax

# Ternary D's classes (DTN's D1, D2, D3).
FAKE_FROM_SOURCE, FAKE_FROM_TARGET, REAL_TARGET = 0, 1, 2


def _class_nll(logits: jax.Array, cls: int) -> jax.Array:
  """-E log softmax(logits)[cls]."""
  labels = jnp.full(logits.shape[:1], cls, jnp.int32)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _smoothed_real_nll(logits: jax.Array, smoothing: float) -> jax.Array:
  """-E sum_c y_c log softmax(logits)_c with y = 1 - smoothing on D3 and
  smoothing / 2 on each fake class (one-sided label smoothing, Salimans et
  al. 2016, Sec. 3.4, for the ternary D)."""
  target = jnp.full((3,), smoothing / 2).at[REAL_TARGET].set(1.0 - smoothing)
  return optax.softmax_cross_entropy(
      logits, jnp.broadcast_to(target, logits.shape)).mean()


def ternary_d_loss(fake_source_logits, fake_target_logits,
                   real_target_logits, real_smoothing: float = 0.0
                   ) -> jax.Array:
  """DTN's L_D: each batch pushed towards its own class of the three; with
  real_smoothing > 0 the real target's label is smoothed (fakes' are not)."""
  real = (_smoothed_real_nll(real_target_logits, real_smoothing)
          if real_smoothing else _class_nll(real_target_logits, REAL_TARGET))
  return (_class_nll(fake_source_logits, FAKE_FROM_SOURCE) +
          _class_nll(fake_target_logits, FAKE_FROM_TARGET) + real)


def ternary_g_loss(fake_source_logits, fake_target_logits) -> jax.Array:
  """DTN's L_GANG: both kinds of fakes pushed towards D3 (real target)."""
  return (_class_nll(fake_source_logits, REAL_TARGET) +
          _class_nll(fake_target_logits, REAL_TARGET))


def _bce(logits: jax.Array, target: float) -> jax.Array:
  labels = jnp.full_like(logits, target)
  return optax.sigmoid_binary_cross_entropy(logits, labels).mean()


def binary_d_loss(fake_logits_list, real_logits,
                  real_smoothing: float = 0.0) -> jax.Array:
  """Binary real/fake D: every fake batch -> 0, the real target -> 1
  (1 - real_smoothing: one-sided label smoothing)."""
  return (sum(_bce(f, 0.0) for f in fake_logits_list) +
          _bce(real_logits, 1.0 - real_smoothing))


def binary_g_loss(fake_logits_list) -> jax.Array:
  """Non-saturating G loss for a binary D: -E log D(G(x)) per fake batch."""
  return sum(_bce(f, 1.0) for f in fake_logits_list)


def mse(a: jax.Array, b: jax.Array) -> jax.Array:
  """Mean squared error over all elements (DTN's d and d2)."""
  return jnp.mean(jnp.square(a - b))


def kl_divergence(target_logits: jax.Array,
                  logits: jax.Array) -> jax.Array:
  """Mean over rows of KL(softmax(target_logits) || softmax(logits))."""
  target_log_p = jax.nn.log_softmax(target_logits)
  log_q = jax.nn.log_softmax(logits)
  return jnp.mean(jnp.sum(jnp.exp(target_log_p) * (target_log_p - log_q), -1))


def total_variation(images: jax.Array, exponent: float = 1.0) -> jax.Array:
  """L_TV = mean over images of sum_ij ((z_i,j+1 - z_ij)^2 +
  (z_i+1,j - z_ij)^2)^(B/2), images [N, H, W, C] (B = `exponent`)."""
  dx = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]
  dy = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]
  per_pixel = jnp.square(dx) + jnp.square(dy)
  if exponent != 2.0:
    per_pixel = jnp.power(per_pixel + 1e-12, exponent / 2.0)
  return jnp.mean(jnp.sum(per_pixel, axis=(1, 2, 3)))


# --- SIGAN (Mao et al. 2018) -------------------------------------------------

def attention_map(features: jax.Array, normalize: bool = False) -> jax.Array:
  """Activation attention map P(T) = sum_c |T_c| (eq. 8): [B, H, W, C] ->
  [B, H, W]. With `normalize`, each map is divided by its L2 norm (as in
  attention transfer, Zagoruyko & Komodakis 2017)."""
  maps = jnp.sum(jnp.abs(features), axis=-1)
  if normalize:
    norm = jnp.sqrt(jnp.sum(jnp.square(maps), axis=(1, 2), keepdims=True))
    maps = maps / (norm + 1e-8)
  return maps


def attention_loss(encoder_maps, generator_maps,
                   normalize: bool = False) -> jax.Array:
  """L_Attention = sum over scales of d2(P(G^l), P(E^{L-l})) (eqs. 9-10),
  d2 = MSE; `encoder_maps` / `generator_maps`: feature maps paired by
  scale (e.g. E's and G's 8x8 maps, then their 4x4 maps)."""
  total = jnp.zeros(())
  for e, g in zip(encoder_maps, generator_maps):
    if e.shape[1:3] != g.shape[1:3]:
      raise ValueError(f'attention maps paired across scales: encoder '
                       f'{e.shape} vs generator {g.shape}')
    total = total + mse(attention_map(e, normalize),
                        attention_map(g, normalize))
  return total


def wgan_critic_loss(real_scores: jax.Array,
                     fake_scores: jax.Array) -> jax.Array:
  """The critic maximises E_t[D(x_t)] - E_s[D(G(E(x_s)))] (eq. 11); this is
  its negative, to minimise."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wgan_generator_loss(fake_scores: jax.Array) -> jax.Array:
  """E and G minimise eq. 11, i.e. -E_s[D(G(E(x_s)))]."""
  return -jnp.mean(fake_scores)


def gradient_penalty(critic, real: jax.Array, fake: jax.Array,
                     rng: jax.Array) -> jax.Array:
  """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x D(x_hat)||_2 - 1)^2] at
  random interpolates x_hat of real and fake images; `critic` maps images
  to scores [N] or [N, 1]."""
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1))
  x_hat = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=(1, 2, 3)) + 1e-12)
  return jnp.mean(jnp.square(norms - 1.0))


def lsgan_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
  """Least-squares D: 1/2 (E[(D(y) - 1)^2] + E[D(G(x))^2])."""
  return 0.5 * (jnp.mean(jnp.square(real_scores - 1.0)) +
                jnp.mean(jnp.square(fake_scores)))


def lsgan_g_loss(fake_scores: jax.Array) -> jax.Array:
  """Least-squares G: E[(D(G(x)) - 1)^2]."""
  return jnp.mean(jnp.square(fake_scores - 1.0))


def l1(a: jax.Array, b: jax.Array) -> jax.Array:
  """Mean absolute difference over all elements (CycleGAN's ||.||_1)."""
  return jnp.mean(jnp.abs(a - b))
