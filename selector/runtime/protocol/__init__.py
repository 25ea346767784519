"""Sans-I/O protocol logic of the runtime: no sockets, no asyncio, no clock (``now`` is passed)."""
