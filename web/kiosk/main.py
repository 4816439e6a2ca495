# Worker entry of the kiosk: everything else is in pyapp.browser.kiosk.
import asyncio

from pyapp.browser import kiosk

RUN = asyncio.ensure_future(kiosk.main())  # noqa: RUF006 (kept: module global)
