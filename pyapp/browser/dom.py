"""The page, as seen from Python in the worker: window, document, and a few DOM helpers.

PyScript runs Python in a web worker; ``polyscript.xworker`` gives it synchronous proxies of
the main thread's ``window`` and ``document`` (over SharedArrayBuffer + Atomics, which is why
the server sends the cross-origin isolation headers). Nothing outside ``pyapp.browser``
touches these proxies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]
import polyscript  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]

window: Any = polyscript.xworker.window
document: Any = window.document
sync: Any = polyscript.xworker.sync
js_modules: Any = polyscript.js_modules
console: Any = js.console


def element(element_id: str) -> Any:
    found = document.getElementById(element_id)
    if found is None:
        raise LookupError(f"the page has no element #{element_id}")
    return found


def set_text(element_id: str, text: str) -> None:
    element(element_id).textContent = text


def show(element_id: str, visible: bool = True) -> None:
    element(element_id).hidden = not visible


def on(element_id: str, event: str, handler: Callable[[Any], Awaitable[None] | None]) -> Any:
    """Call ``handler`` (sync or async) on ``event``; returns the proxy to keep it alive."""
    proxy = create_proxy(handler)
    element(element_id).addEventListener(event, proxy)
    return proxy


def manifest() -> dict[str, Any]:
    """The asset manifest the server rendered into the page (URLs of models, wheels...)."""
    data: dict[str, Any] = window.ownfaceGlue.manifest.to_py()
    return data


def absolute(url: str) -> str:
    return str(js.URL.new(url, window.location.href).href)


def js_object(value: dict[str, Any]) -> Any:
    return to_js(value, dict_converter=js.Object.fromEntries)


def mark(name: str) -> float:
    """Record a milestone (e.g. "python", "models") on the page, in ms since navigation start.

    Kept as ``data-<name>-ms`` on the root element, where benchmarks and tests read it.
    """
    now = float(window.performance.now())
    window.performance.mark(f"ownface:{name}")
    document.documentElement.setAttribute(f"data-{name}-ms", f"{now:.1f}")
    return now
