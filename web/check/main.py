# Worker entry of the system-check page: everything else is in pyapp.browser.check.
import asyncio

from pyapp.browser import check

RUN = asyncio.ensure_future(check.main())  # noqa: RUF006 (kept: module global)
