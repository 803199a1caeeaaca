"""HTTP command routes of the controlplane (the query routes live in ``projections``)."""
