"""The LimiQuantix controlplane: command side of the API, domain logic, process managers.

It accepts commands over HTTP, decides them against aggregates kept in memory (rebuilt
from the event stream), appends the resulting events with optimistic concurrency, sends
orders to host agents and turns their reports into events.
"""
