"""The ``lq`` client commands: drive a LimiQuantix API from a terminal or a script.

``config`` keeps contexts (API URL + credentials) in ``~/.config/limiquantix/config.toml``;
``http`` is a small synchronous JSON client that signs requests and renews expired access
tokens; ``render`` prints tables and task progress; ``commands`` holds the click groups
that ``lq.cli`` registers (``vm_create``, ``vm_lifecycle`` and ``vm_parts`` add the VM
lifecycle commands to them). The client speaks only HTTP: it imports no server package, only
the published answer shapes in ``events.views``.
"""
