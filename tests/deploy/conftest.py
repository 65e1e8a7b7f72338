"""tests/deploy: the production recipe, run for real (nginx, Redis, several processes)."""
