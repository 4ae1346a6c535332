"""A PyTorch twin of xdomain's DTN digits training step, for benchmarks only.

Written for `benchmarks/jax_vs_torch.py`; not part of the package and not a
runtime dependency (`pip install -e .[bench]` brings PyTorch). Same networks
as `configs/dtn_synth_mnist.py` builds in xdomain, same losses, optimizer and
batch; the step computes what xdomain's compiled step computes:

  f   frozen DTN digits encoder, 'maxpool' variant: three 3x3 convs (64, 128,
      256) + ReLU + 2x2 max pool, a 4x4 valid conv to 128, ReLU.
  g   Linear 128 -> 4x4x512, BN, ReLU; 4x4 stride-2 transposed convs to 256,
      128 (BN, ReLU) and to 1 channel, tanh; grey replicated to RGB.
  D   3x3 stride-2 convs 128, 256, 512 with BN and leaky ReLU 0.2, a linear
      layer to 3 logits (DTN's ternary D).

One iteration (batch B of source x_s and of target x_t):
  G runs once on [x_s; x_t] (batch norm in training mode, as in xdomain);
  D update: L_D on D([G(x_s); G(x_t); x_t]) with G's output detached;
  g update: L_GANG on D([G(x_s); G(x_t); x_t]) with the updated D, plus
  alpha L_CONST (MSE of f(x_s) and f(G(x_s))), beta L_TID (MSE of x_t and
  G(x_t)) and gamma L_TV; D's and f's parameters take no gradient here.
Adam(2e-4, betas (0.5, 0.999)) for D and for g.
"""

import torch
from torch import nn
import torch.nn.functional as F


def encoder() -> nn.Module:
  layers, channels = [], 3
  for width in (64, 128, 256):
    layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
               nn.MaxPool2d(2)]
    channels = width
  layers += [nn.Conv2d(channels, 128, 4), nn.ReLU(), nn.Flatten()]
  return nn.Sequential(*layers)


class Generator(nn.Module):

  def __init__(self, widths=(512, 256, 128), channels=1):
    super().__init__()
    self.width = widths[0]
    self.project = nn.Linear(128, 16 * widths[0], bias=False)
    self.project_norm = nn.BatchNorm2d(widths[0], momentum=0.1)
    blocks = []
    for cin, cout in zip(widths[:-1], widths[1:]):
      blocks += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                 nn.BatchNorm2d(cout, momentum=0.1), nn.ReLU()]
    blocks += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
    self.blocks = nn.Sequential(*blocks)

  def forward(self, z):
    h = self.project(z).view(z.shape[0], self.width, 4, 4)
    out = self.blocks(F.relu(self.project_norm(h)))
    return out.expand(-1, 3, -1, -1) if out.shape[1] == 1 else out


def discriminator(widths=(128, 256, 512), num_outputs=3) -> nn.Module:
  layers, channels = [], 3
  for width in widths:
    layers += [nn.Conv2d(channels, width, 3, 2, 1, bias=False),
               nn.BatchNorm2d(width, momentum=0.1), nn.LeakyReLU(0.2)]
    channels = width
  layers += [nn.Flatten(), nn.Linear(16 * channels, num_outputs)]
  return nn.Sequential(*layers)


def _class_nll(logits, cls):
  target = torch.full((logits.shape[0],), cls, dtype=torch.long,
                      device=logits.device)
  return F.cross_entropy(logits, target)


def total_variation(images):
  dx = images[:, :, :-1, 1:] - images[:, :, :-1, :-1]
  dy = images[:, :, 1:, :-1] - images[:, :, :-1, :-1]
  return (dx.square() + dy.square()).sum(dim=(1, 2, 3)).mean()


class DTNStep:
  """Holds f, g, D and their optimizers; `step(xs, xt)` runs one iteration."""

  def __init__(self, alpha=15.0, beta=15.0, gamma=0.0, device='cpu',
               memory_format=torch.contiguous_format):
    torch.manual_seed(0)
    self.memory_format = memory_format

    def place(module):
      return module.to(device=device, memory_format=memory_format)

    self.f = place(encoder()).eval()
    for p in self.f.parameters():
      p.requires_grad_(False)
    self.g = place(Generator()).train()
    self.d = place(discriminator()).train()
    self.opt_g = torch.optim.Adam(self.g.parameters(), 2e-4, (0.5, 0.999))
    self.opt_d = torch.optim.Adam(self.d.parameters(), 2e-4, (0.5, 0.999))
    self.alpha, self.beta, self.gamma = alpha, beta, gamma

  def _set_d_trainable(self, trainable):
    for p in self.d.parameters():
      p.requires_grad_(trainable)

  def step(self, xs, xt):
    """xs, xt: [B, 3, 32, 32] in [-1, 1]; returns (L_D, L_G) tensors."""
    n = xs.shape[0]
    with torch.no_grad():
      features = self.f(torch.cat([xs, xt]))
    fakes = self.g(features)
    # D update: fakes detached (DTN L_D, ternary).
    self._set_d_trainable(True)
    logits = self.d(torch.cat([fakes.detach(), xt]))
    loss_d = (_class_nll(logits[:n], 0) + _class_nll(logits[n:2 * n], 1) +
              _class_nll(logits[2 * n:], 2))
    self.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    self.opt_d.step()
    # g update through the same forward pass, with the updated D.
    self._set_d_trainable(False)
    logits = self.d(torch.cat([fakes, xt]))
    l_gan = _class_nll(logits[:n], 2) + _class_nll(logits[n:2 * n], 2)
    l_const = F.mse_loss(self.f(fakes[:n]), features[:n])
    l_tid = F.mse_loss(fakes[n:], xt)
    l_tv = total_variation(fakes)
    loss_g = l_gan + self.alpha * l_const + self.beta * l_tid + (
        self.gamma * l_tv)
    self.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    self.opt_g.step()
    return loss_d.detach(), loss_g.detach()
