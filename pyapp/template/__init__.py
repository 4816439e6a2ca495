"""Embedding -> protected template: binarise, ecc (over gf), commitment, oprf (over
ristretto), keys, and the template blob format (blob).
"""
