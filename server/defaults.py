"""The example site a fresh install starts with, so the app works at once.

``ownface serve`` creates it when the database has no site at all. Its notice says, in plain
words and in both languages, everything the consent screen must say: that facial recognition
is used, by whom, for what, what is stored, where, for how long, and how to withdraw. A
self-hoster edits it with ``ownface site set-notice`` (a new text is a new version; texts
people consented to are never changed).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from server import sites
from server.tables import sites as sites_table

DEMO_SITE = "demo"
DEMO_SHOP_ORIGIN = "http://localhost:8001"  # where 'ownface demo' serves the Example Shop

NOTICE_EN = """\
Who: "OwnFace demo", run by the operator of this server, uses facial recognition on this page.

What for: only to confirm that it is you when you sign in to this site.

How: your camera is used only after you agree below, and only for the few seconds it takes. \
Your face is processed on this device, inside this browser. No photo and no description of \
your face is sent to us or to anyone else.

What is kept: a protected template: helper data on this device and a public key on our \
server. Neither is a photo, and neither works for any other site.

For how long: until you withdraw consent or your account is closed, and at most 12 months \
after your last use.

Your choice: you can use a password instead, now or at any time, with no disadvantage. You can \
withdraw your consent at any time with "Withdraw consent and erase my face data"; this erases \
the template at once."""

NOTICE_ZH = """\
谁在使用：本服务器的运营者运营的“OwnFace 演示”在本页面使用人脸识别。

用途：仅用于在您登录本网站时确认是您本人。

方式：只有在您于下方表示同意之后，才会打开摄像头，并且只使用几秒钟。您的面部信息在本设备的浏览器中处理，\
不会向我们或任何其他方发送照片或面部特征描述。

保存什么：一个受保护的模板：保存在本设备上的辅助数据，以及保存在我们服务器上的公钥。\
两者都不是照片，也都不能用于任何其他网站。

保存多久：直到您撤回同意或注销账户为止，且最长不超过您最后一次使用后的 12 个月。

您的选择：您现在或任何时候都可以改用密码，不会有任何不利影响。您可以随时通过“撤回同意并删除我的人脸数据”\
撤回同意，模板将立即删除。"""

NOTICES = {"en": NOTICE_EN, "zh": NOTICE_ZH}


def ensure_demo_site(engine: Engine, origins: list[str]) -> str | None:
    """Create the demo site if the database has no site yet; return its admin token then."""
    with engine.connect() as conn:
        any_site = conn.execute(select(sites_table.c.id).limit(1)).first()
    if any_site is not None:
        return None
    token = sites.add_site(engine, DEMO_SITE, origins, "device")
    for language, text in NOTICES.items():
        sites.set_notice(engine, DEMO_SITE, language, text)
    return token
