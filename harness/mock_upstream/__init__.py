"""A fake OpenAI-compatible provider with a controllable latency model.

Self-contained (relative imports only): its image copies this folder alone and runs
`python -m mock_upstream`. The gateway never imports it.
"""
