# Benchmark harness, runs inside Pyodide in a worker: times the client-side cryptosystem with
# bench/crypto_speed.py's own measure() (fetched from the test server), so the browser and
# CPython numbers come from the same code.
import json
import time
import types

import polyscript
from pyodide.http import pyfetch

from pyapp.browser import dom
from pyapp.template.binarise import scheme_from_params

ORIGIN = str(dom.window.location.origin)


async def run(spec_json):
    spec = json.loads(spec_json)
    source = await (await pyfetch(ORIGIN + "/_test/bench/crypto_speed.py")).string()
    module = types.ModuleType("crypto_speed")
    module.__dict__["__file__"] = "/home/pyodide/bench/crypto_speed.py"
    exec(compile(source, "crypto_speed.py", "exec"), module.__dict__)
    params = await (await pyfetch(ORIGIN + dom.manifest()["models"]["binarise-v1.json"])).json()
    scheme = scheme_from_params(params)
    result = module.measure(scheme, spec.get("repeat", 20), time.perf_counter)
    return json.dumps(result)


polyscript.xworker.sync.run = run
dom.document.getElementById("state").dataset.ready = "1"
