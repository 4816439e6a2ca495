# Worker entry of the verification app: everything else is in pyapp.browser.app.
import asyncio

from pyapp.browser import app

RUN = asyncio.ensure_future(app.main())  # noqa: RUF006 (kept: module global)
