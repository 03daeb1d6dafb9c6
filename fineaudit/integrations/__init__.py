"""Integrations with training frameworks; each lives in its own module and imports its framework lazily."""
