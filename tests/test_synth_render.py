"""synth_digits rendering: determinism, shapes, fonts."""

import os

import numpy as np
from PIL import ImageFont

from xdomain.data import synth_render


def test_image_depends_only_on_seed_split_index():
  a, label_a = synth_render.render(3, 'train', 17)
  b, label_b = synth_render.render(3, 'train', 17)
  np.testing.assert_array_equal(a, b)
  assert label_a == label_b
  # Rendering other images in between changes nothing.
  synth_render.render_range(3, 'train', 0, 5)
  c, _ = synth_render.render(3, 'train', 17)
  np.testing.assert_array_equal(a, c)


def test_different_index_split_or_seed_gives_different_images():
  base, _ = synth_render.render(0, 'train', 5)
  for args in [(0, 'train', 6), (0, 'test', 5), (1, 'train', 5)]:
    other, _ = synth_render.render(*args)
    assert not np.array_equal(base, other), args


def test_shapes_dtypes_and_labels():
  out = synth_render.render_range(0, 'test', 0, 200)
  assert out['image'].shape == (200, 32, 32, 3)
  assert out['image'].dtype == np.uint8
  assert set(np.unique(out['label'])) == set(range(10))
  # Images are not flat: there is a digit on a background.
  assert out['image'].reshape(200, -1).std(axis=1).min() > 3.0


def test_label_digit_has_minimum_contrast_against_background():
  bg, fg = synth_render._colours(np.random.default_rng(0), 0.2)  # pylint: disable=protected-access
  assert abs(synth_render._luminance(bg) - synth_render._luminance(fg)) >= 0.2  # pylint: disable=protected-access


def test_all_listed_fonts_are_usable_numeral_faces():
  table = synth_render.glyph_table()
  assert len(table) == len(synth_render.FONT_FILES) == 21


def test_symbol_faces_are_rejected():
  for name in ('cmsy10.ttf', 'cmex10.ttf'):
    font = ImageFont.truetype(os.path.join(synth_render.font_dir(), name),
                              synth_render._GLYPH_PX)  # pylint: disable=protected-access
    glyphs = [synth_render._render_glyph(font, str(d)) for d in range(10)]  # pylint: disable=protected-access
    assert not synth_render.check_font(glyphs), name
