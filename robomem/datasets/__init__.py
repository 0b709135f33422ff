"""Readers for recorded RGB-D dataset layouts (TUM RGB-D, 7-Scenes, Redwood/Open3D) and the ``ingest-dir``
driver; see :mod:`robomem.datasets.ingest`."""
