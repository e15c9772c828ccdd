"""ortho-suite."""
