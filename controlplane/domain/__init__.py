"""Pure domain logic: one module per aggregate with its state, ``decide`` and ``evolve``.

Nothing here does I/O, reads a clock or touches asyncio; time and ids arrive inside
commands. Tests drive these functions as tables: given events, when command, then events.
"""
