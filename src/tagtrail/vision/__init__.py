"""Pixels in, numbers out: safe decoding, the CLIP encoder and measured colour."""
