"""A stand-alone IB Gateway simulator that speaks the TWS API socket protocol (server versions 157 to 178), so
that the unmodified ib_async client, or any TWS API client, connects to it over a real socket.

It is written from the protocol and imports neither ib_async nor anything else of Omnibot's:
`protocol` (framing and fields), `session` (one client connection), `gateway` (the server and its omnibus
account). This first step covers the handshake, start of the API and everything a client asks for while it
connects; market data, contracts and orders follow (issue 3).
"""
