"""Peer frameworks for nnthe's benchmarks (torch, jax, pytensor) and the NumPy GEMM bound.

Each peer module (``torch_peer``, ``jax_peer``, ``pytensor_peer``) exposes
``version()``, ``seed_program()``, ``mlp_epoch(data)``, ``cnn_epoch(data)`` and
``cnn_inference(data, params=None)``, each returning a dict of numbers and raising
``common.PeerUnavailable`` (an ImportError) when the peer is not installed. Import
``common`` (or any peer module) before numpy so the thread pinning takes effect.
These peers are never dependencies of nnthe.
"""
