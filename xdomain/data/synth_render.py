"""Renders SVHN-like printed-digit crops (the `synth_digits` domain).

Pure numpy + PIL (no TensorFlow), so that worker processes stay light. Every
image is a function of (seed, split, index) alone: the random generator is
seeded from exactly those three numbers.

One image: a centred label digit with cut-off neighbour digits in the same
font, rendered from the TrueType faces shipped inside matplotlib's wheel,
warped by one affine map (scale jitter, aspect jitter, rotation ±10°, shear),
painted in muted HSV colours with a minimum luminance contrast over a
gradient/blotchy background, with an occasional drop shadow, blur and pixel
noise.
"""

import functools
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

IMAGE_SIZE = 32
_WORK_SIZE = 64  # geometry is drawn at 2x and box-reduced to 32x32
_GLYPH_PX = 64  # font size at which glyph masks are rendered once

# Faces whose digits are ordinary numerals. Symbol / size-variant faces
# (cmsy10, cmex10, cmmi10, STIXSiz*, STIXNonUni*) and the partial "Display"
# faces are left out; `check_font` verifies each face anyway.
FONT_FILES: Tuple[str, ...] = (
    'DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf',
    'DejaVuSans-BoldOblique.ttf',
    'DejaVuSerif.ttf', 'DejaVuSerif-Bold.ttf', 'DejaVuSerif-Italic.ttf',
    'DejaVuSerif-BoldItalic.ttf',
    'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf',
    'DejaVuSansMono-Oblique.ttf', 'DejaVuSansMono-BoldOblique.ttf',
    'STIXGeneral.ttf', 'STIXGeneralBol.ttf', 'STIXGeneralItalic.ttf',
    'STIXGeneralBolIta.ttf',
    'cmr10.ttf', 'cmb10.ttf', 'cmss10.ttf', 'cmtt10.ttf', 'cmti10.ttf',
)

SPLIT_CODES = {'train': 0, 'test': 1, 'extra': 2}


def font_dir() -> str:
  import matplotlib  # pylint: disable=g-import-not-at-top
  return os.path.join(os.path.dirname(matplotlib.__file__), 'mpl-data', 'fonts',
                      'ttf')


def _render_glyph(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
  """Returns the glyph's ink mask cropped to its bounding box, float in [0,1]."""
  canvas = Image.new('L', (_GLYPH_PX * 2, _GLYPH_PX * 2), 0)
  ImageDraw.Draw(canvas).text((_GLYPH_PX // 2, _GLYPH_PX // 4), char,
                              fill=255, font=font)
  mask = np.asarray(canvas, dtype=np.float32) / 255.0
  rows, cols = np.nonzero(mask > 0.05)
  if rows.size == 0:
    return np.zeros((0, 0), np.float32)
  return mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def check_font(glyphs: Sequence[np.ndarray]) -> bool:
  """True when the ten digit glyphs are real, distinct numerals.

  A symbol face maps '0'..'9' to empty, tiny or repeated shapes; a numeral
  face has ten non-empty glyphs of similar height that all differ.
  """
  if any(g.size == 0 for g in glyphs):
    return False
  heights = np.array([g.shape[0] for g in glyphs], np.float32)
  if heights.min() < 0.25 * _GLYPH_PX or heights.max() > 1.6 * heights.min():
    return False
  small = [np.asarray(Image.fromarray((g * 255).astype(np.uint8)).resize(
      (12, 16), Image.BILINEAR), np.float32) / 255.0 for g in glyphs]
  for i in range(10):
    for j in range(i + 1, 10):
      if np.abs(small[i] - small[j]).mean() < 0.02:
        return False
  return True


@functools.lru_cache(maxsize=None)
def glyph_table() -> Tuple[List[np.ndarray], ...]:
  """Per usable face, the ten digit masks. Cached once per process."""
  table = []
  for name in FONT_FILES:
    path = os.path.join(font_dir(), name)
    if not os.path.exists(path):
      continue
    font = ImageFont.truetype(path, _GLYPH_PX)
    glyphs = [_render_glyph(font, str(d)) for d in range(10)]
    if check_font(glyphs):
      table.append(glyphs)
  if not table:
    raise RuntimeError(
        f'No usable digit font found in {font_dir()}; synth_digits needs the '
        'TrueType fonts shipped with matplotlib (pip install matplotlib).')
  return tuple(table)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
  i = int(h * 6.0) % 6
  f = h * 6.0 - int(h * 6.0)
  p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
  return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
                   (v, p, q)][i], np.float32)


def _luminance(rgb: np.ndarray) -> float:
  return float(rgb @ np.array([0.299, 0.587, 0.114], np.float32))


def _colours(rng: np.random.Generator,
             min_contrast: float) -> Tuple[np.ndarray, np.ndarray]:
  """Muted background and foreground colours with |ΔL| >= min_contrast."""
  bg = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.4)**1.5,
                  rng.uniform(0.15, 0.95))
  bg_lum = _luminance(bg)
  for _ in range(20):
    fg = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.5)**1.5,
                     rng.uniform(0.05, 1.0))
    if abs(_luminance(fg) - bg_lum) >= min_contrast:
      return bg, fg
  # Fall back to a grey on the far side of the background's luminance.
  level = 0.05 if bg_lum > 0.5 else 0.95
  return bg, np.full(3, level, np.float32)


def _background(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
  """A linear gradient plus low-frequency blotches, around `base`."""
  n = IMAGE_SIZE
  angle = rng.uniform(0, 2 * np.pi)
  coords = (np.arange(n, dtype=np.float32) - n / 2) / n
  ramp = (np.cos(angle) * coords[None, :] + np.sin(angle) * coords[:, None])
  tint = rng.uniform(-0.25, 0.25, size=3).astype(np.float32)
  image = base + ramp[..., None] * tint
  blotch_grid = rng.normal(0.0, 1.0, size=(4, 4)).astype(np.float32)
  blotches = np.asarray(
      Image.fromarray(blotch_grid, mode='F').resize((n, n), Image.BICUBIC))
  image = image + rng.uniform(0.0, 0.08) * blotches[..., None]
  return image


def _line_mask(rng: np.random.Generator, glyphs: Sequence[np.ndarray],
               label: int) -> Tuple[np.ndarray, float, float, float]:
  """Label digit with up to two neighbours; returns mask and centre glyph box.

  Returns (mask, centre_x, centre_y, centre_height) in mask pixels.
  """
  centre = glyphs[label]
  left = glyphs[rng.integers(10)] if rng.random() < 0.75 else None
  right = glyphs[rng.integers(10)] if rng.random() < 0.75 else None
  gap = int(rng.uniform(0.1, 0.5) * centre.shape[1]) + 2
  height = max(g.shape[0] for g in (centre, left, right) if g is not None)
  parts = [g for g in (left, centre, right) if g is not None]
  width = sum(g.shape[1] for g in parts) + gap * (len(parts) - 1)
  pad = _GLYPH_PX
  mask = np.zeros((height + 2 * pad, width + 2 * pad), np.float32)
  x = pad
  centre_x = 0.0
  for g in parts:
    top = pad + height - g.shape[0]  # bottom-aligned, like printed numbers
    mask[top:top + g.shape[0], x:x + g.shape[1]] = np.maximum(
        mask[top:top + g.shape[0], x:x + g.shape[1]], g)
    if g is centre:
      centre_x = x + g.shape[1] / 2
    x += g.shape[1] + gap
  centre_y = pad + height - centre.shape[0] / 2
  return mask, centre_x, centre_y, float(centre.shape[0])


def _warp(rng: np.random.Generator, mask: np.ndarray, cx: float, cy: float,
          glyph_height: float) -> np.ndarray:
  """Scale/aspect jitter, rotation ±10°, shear; box-reduced to 32x32 alpha."""
  out = _WORK_SIZE
  target_height = rng.uniform(0.6, 0.9) * out
  scale_y = glyph_height / target_height  # input pixels per output pixel
  scale_x = scale_y * rng.uniform(0.8, 1.3)
  theta = np.deg2rad(rng.uniform(-10.0, 10.0))
  shear = rng.uniform(-0.25, 0.25)
  rotation = np.array([[np.cos(theta), -np.sin(theta)],
                       [np.sin(theta), np.cos(theta)]], np.float64)
  shear_m = np.array([[1.0, shear], [0.0, 1.0]])
  inverse = np.diag([scale_x, scale_y]) @ rotation @ shear_m
  shift = rng.uniform(-0.06, 0.06, size=2) * out
  out_centre = np.array([out / 2, out / 2]) + shift
  offset = np.array([cx, cy]) - inverse @ out_centre
  coeffs = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0],
            inverse[1, 1], offset[1])
  warped = Image.fromarray(mask, mode='F').transform(
      (out, out), Image.AFFINE, coeffs, resample=Image.BILINEAR)
  alpha = np.asarray(warped, np.float32)
  alpha = alpha.reshape(IMAGE_SIZE, 2, IMAGE_SIZE, 2).mean(axis=(1, 3))
  return np.clip(alpha, 0.0, 1.0)


def _shift(alpha: np.ndarray, dy: int, dx: int) -> np.ndarray:
  return np.roll(np.roll(alpha, dy, axis=0), dx, axis=1)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
  """Separable Gaussian blur of an HxWxC float image (edge padded)."""
  if sigma < 0.2:
    return image
  radius = max(1, int(np.ceil(2 * sigma)))
  taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma)**2)
  taps = (taps / taps.sum()).astype(np.float32)
  padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)),
                  mode='edge')
  n = image.shape[0]
  rows = sum(t * padded[i:i + n, :, :] for i, t in enumerate(taps))
  return sum(t * rows[:, i:i + n, :] for i, t in enumerate(taps))


def render(seed: int, split: str, index: int,
           min_contrast: float = 0.2) -> Tuple[np.ndarray, int]:
  """Renders one image: (uint8 [32, 32, 3], label). Depends only on the args."""
  rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
  table = glyph_table()
  glyphs = table[rng.integers(len(table))]
  label = int(rng.integers(10))
  mask, cx, cy, height = _line_mask(rng, glyphs, label)
  alpha = _warp(rng, mask, cx, cy, height)[..., None]

  bg_colour, fg_colour = _colours(rng, min_contrast)
  image = _background(rng, bg_colour)
  if rng.random() < 0.3:  # drop shadow
    dy, dx = rng.integers(-2, 3, size=2)
    shadow = _blur(_shift(alpha, int(dy), int(dx)), 0.8)
    image = image * (1.0 - rng.uniform(0.3, 0.7) * shadow)
  fg = fg_colour + rng.uniform(-0.05, 0.05, size=3).astype(np.float32)
  image = image * (1.0 - alpha) + fg * alpha
  image = _blur(image, rng.uniform(0.0, 1.0))
  image = image + rng.normal(0.0, rng.uniform(0.0, 0.04), size=image.shape)
  image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
  return image, label


def render_range(seed: int, split: str, start: int,
                 stop: int) -> Dict[str, np.ndarray]:
  """Renders images [start, stop) of a split as stacked arrays."""
  images = np.empty((stop - start, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
  labels = np.empty((stop - start,), np.int64)
  for i, index in enumerate(range(start, stop)):
    images[i], labels[i] = render(seed, split, index)
  return {'image': images, 'label': labels}
