"""Networks: flax.linen modules only, no losses or training logic."""
