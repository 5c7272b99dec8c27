"""Batched decoding of a trained model over a manifest."""
