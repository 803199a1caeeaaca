"""Events of name claims of networks, storage pools, clusters and security groups.

Names of each of these kinds are unique among the resources of that kind that are not
deleted, fleet-wide, regardless of case (docs/reliability.md). As for VMs
(``events.vm_name``), each lower-cased name of a kind has one claim aggregate
(``lq.evt.<kind>_name.<claim id>``, e.g. ``network_name``); a resource's creation or
rename appends a claim under the aggregate's expected version before it takes the name,
which is what makes two concurrent takers of one name impossible. The kind is the
aggregate's (``<kind>_name``); the claim names the resource that holds it.
"""

from __future__ import annotations

from events.base import Event


class NameClaimed(Event, frozen=True, kw_only=True, tag="name.claimed"):
    """``holder_id`` (a resource of the claim aggregate's kind) holds ``name`` from now on,
    spelled as the resource is named."""

    name: str
    holder_id: str


NAME_CLAIM_EVENTS = NameClaimed
