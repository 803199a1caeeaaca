"""The LimiQuantix host agent: enrols a hypervisor host, carries out its orders through
libvirt, and reports what the hypervisor really does (order outcomes, lifecycle events,
inventory on start).

Only ``agent.hypervisor`` and its ``agent.hv_*`` helpers import libvirt; everything else
speaks in ``events`` types.
"""
