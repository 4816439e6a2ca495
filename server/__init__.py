"""OwnFace's server: a small Starlette service. CPython only; never imports pyapp.browser."""
