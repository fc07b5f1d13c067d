"""The gRPC face: what ``@inworld/nodejs-sdk`` speaks (spec streaming-protocol.md §1.2, §3.2).

server.py    lifecycle inside the app's lifespan (``serving``), TLS, the method table
calls.py     GenerateToken, GetSessionState, Create/DeleteInteractionFeedback
stream.py    OpenSession: packets in and out of the shared streaming session core
metadata.py  session token and session id from the call's metadata
status.py    AnimaError -> gRPC status + ``grpc-status-details-bin`` (InworldStatus)
"""

from anima.api.grpc.server import serving

__all__ = ["serving"]
