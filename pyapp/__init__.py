"""OwnFace's client-side core: frame -> face embedding -> protected template.

Pure Python + numpy; runs unchanged in CPython and in Pyodide. Browser interop lives only in
``pyapp.browser``; CPython adapters (onnxruntime, image files) live in ``pyapp.host``.
"""

__version__ = "0.1.0"
