# Runs inside Pyodide (in a worker): fetch the listed test files into the in-memory file
# system, run pytest on them, and put the outcome into the page for Playwright to read.
import asyncio
import contextlib
import io
import os
import sys

import polyscript
from pyodide.http import pyfetch

window = polyscript.xworker.window
document = window.document
ORIGIN = str(window.location.origin)  # the worker's own base URL is a blob: URL


async def main():
    listing = await (await pyfetch(ORIGIN + "/_test/files.json")).json()
    for path in listing["files"]:
        target = os.path.join("/home/pyodide/suite", path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        data = await (await pyfetch(ORIGIN + "/_test/files/" + path)).bytes()
        with open(target, "wb") as fh:
            fh.write(data)
    os.chdir("/home/pyodide/suite")
    sys.path.insert(0, "/home/pyodide/suite")
    import pytest

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", "-rs",
                            *listing["args"]])
    document.getElementById("log").textContent = out.getvalue()
    document.getElementById("result").dataset.exit = str(int(code))


RUN = asyncio.ensure_future(main())  # noqa: RUF006 (kept: module global)
