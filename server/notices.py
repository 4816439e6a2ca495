"""The liveness paragraph of a site's notice: the person is told, before consenting, that a
liveness check runs and that nothing of it leaves the device.

A site's notice is its operator's text, stored in versions that people consented to and that
never change. The server keeps one paragraph of it in step with the site's liveness policy
(``protocol.LIVENESS_POLICIES``): ``ownface site set-notice`` adds or replaces it in a new
text, ``ownface site set-liveness`` stores a new notice version with the new paragraph (so
the next verification asks for consent to the new text). The paragraph starts with a fixed
heading per language, which is how an existing one is found; languages without a paragraph
here are left as written (the command says so).
"""

from __future__ import annotations

HEADINGS = {"en": "Liveness check:", "zh": "活体检测："}

PARAGRAPHS = {
    "en": {
        "passive": "Liveness check: to make sure a real person is in front of the camera, "
                   "not a photo or a screen, this device also checks each camera picture for "
                   "signs of a print or a display. The check runs only on this device; "
                   "nothing of it is sent anywhere except whether it passed.",
        "passive+active": "Liveness check: to make sure a real person is in front of the "
                          "camera, not a photo or a screen, this device also checks each "
                          "camera picture for signs of a print or a display, and asks you to "
                          "turn your head a little. The check runs only on this device; "
                          "nothing of it is sent anywhere except whether it passed.",
    },
    "zh": {
        "passive": ("活体检测：为确认摄像头前是真人，而不是照片或屏幕，"
                    "本设备还会检查每一帧画面是否有打印件或显示屏的特征。"
                    "该检测只在本设备上进行，除了是否通过之外，不会发送任何相关信息。"),
        "passive+active": ("活体检测：为确认摄像头前是真人，而不是照片或屏幕，"
                           "本设备还会检查每一帧画面是否有打印件或显示屏的特征，"
                           "并请您稍微转动头部。"
                           "该检测只在本设备上进行，除了是否通过之外，不会发送任何相关信息。"),
    },
}


def with_liveness(text: str, language: str, policy: str) -> str | None:
    """``text`` with its liveness paragraph for ``policy`` (removed for ``off``); None when
    this language has no paragraph to give."""
    heading = HEADINGS.get(language)
    if heading is None:
        return None
    kept = [p for p in text.strip().split("\n\n") if not p.lstrip().startswith(heading)]
    wanted = PARAGRAPHS[language].get(policy)
    return "\n\n".join(kept + ([wanted] if wanted else []))
