"""Image grids as PNG (sample sheets in docs/ and evaluation outputs)."""

import io

import numpy as np
from PIL import Image

from xdomain import files


def to_uint8(images: np.ndarray) -> np.ndarray:
  """float images in [-1, 1] (or uint8 as-is) -> uint8."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images
  return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, rows: int, cols: int, scale: int = 1,
         pad: int = 0) -> np.ndarray:
  """[rows*cols, H, W, C] -> one [rows*H, cols*W, C] uint8 sheet."""
  images = to_uint8(images)
  n, h, w, c = images.shape
  if n != rows * cols:
    raise ValueError(f'grid needs rows*cols = {rows * cols} images, got {n}')
  if pad:
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                    constant_values=255)
    h, w = h + 2 * pad, w + 2 * pad
  sheet = images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4)
  sheet = sheet.reshape(rows * h, cols * w, c)
  if scale > 1:
    sheet = sheet.repeat(scale, axis=0).repeat(scale, axis=1)
  return sheet


def save_png(path: str, sheet: np.ndarray) -> None:
  if sheet.shape[-1] == 1:
    sheet = sheet[..., 0]
  buffer = io.BytesIO()
  Image.fromarray(sheet).save(buffer, format='PNG')
  files.write_bytes(path, buffer.getvalue())
