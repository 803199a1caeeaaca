"""Entry points: the ``lq`` CLI, the embedded stack and the HTTP app composition.

This package is the only place that wires ``controlplane``, ``projections`` and ``agent``
together; they never import each other.
"""
