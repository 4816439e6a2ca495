"""The browser adapter layer: the ONLY package of pyapp that may import js, pyodide, pyscript.

Everything here converts between JavaScript objects and plain Python/numpy values and then
hands over to the pure core. No JS proxy escapes this package.
"""
