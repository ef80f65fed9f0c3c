"""loadgate's harness: images, containers, load generation and measurement."""
