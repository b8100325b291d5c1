"""Blueprints: thin routes that parse with a form, call one service, and render."""
