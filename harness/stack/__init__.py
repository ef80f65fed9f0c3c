"""The stack under test: Docker, images, the compose file, launch and readiness, sampling."""
