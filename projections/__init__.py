"""LimiQuantix read side: PostgreSQL read models projected from the event stream.

``runner`` folds the stream into tables (checkpoint in the same transaction), ``rebuild``
builds them again from sequence 1 and swaps them in, ``api`` serves the query endpoints
and live changes from them. This package meets the rest of LimiQuantix only through NATS
(``events``) and PostgreSQL; it never imports the controlplane, the agent or ``lq``.
"""
