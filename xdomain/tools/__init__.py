"""Small command-line tools around the package."""
