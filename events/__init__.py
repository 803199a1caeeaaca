"""The LimiQuantix contract: event and order schemas, the envelope, subjects, the event store.

Everything in this package except ``events.store`` and ``events.bus`` is pure data and may
be imported by any outside subscriber without pulling in NATS, PostgreSQL or libvirt.
"""
