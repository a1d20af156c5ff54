"""The Hydra config tree (``tsadbench.conf``). Importing it, as Hydra does before it reads the
tree, registers the schema of the top-level settings (``tsadbench.settings.RunConfig``)."""

from tsadbench.settings import register_schema

register_schema()
