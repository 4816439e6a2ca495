"""Message catalogues: every string the person sees, in English and Simplified Chinese.

The server renders the first screen from these catalogues and the Python app in the browser
uses the same ones for live hints and results, so a string exists once per language. A
site's notice text is not here: it is the site's own, stored with its version on the server.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyapp.errors import Reason

LANGUAGES = ("en", "zh")
DEFAULT = "en"

EN: dict[str, str] = {
    "language_name": "English",
    "title": "Verify it's you",
    "intro": "{site} asks you to confirm it is you. Choose one of the two ways below: both "
             "work equally well.",
    "notice_heading": "About facial recognition on this site",
    "choose_heading": "How would you like to verify?",
    "use_face": "Use my face",
    "use_face_note": "Your face is processed only on this device. No photo is sent or kept.",
    "use_password": "Use a password instead",
    "use_password_note": "No camera needed. Choosing this has no downside.",
    "consent_heading": "Your consent",
    "consent_label": "I agree that this site uses facial recognition on this device to verify "
                     "me, as described in the notice. I can withdraw this consent at any time.",
    "consent_needed": "Please tick the box to agree, or use a password instead.",
    "consent_recorded": "You agreed on {date}. You can withdraw at any time.",
    "start_camera": "Agree and start the camera",
    "start_verify": "Start the camera",
    "back": "Back",
    "loading": "Getting face verification ready: {what}",
    "loading_runtime": "starting the Python runtime",
    "loading_download": "downloading, {done} of {total} MB",
    "loading_models": "face models ({done} of {total})",
    "loading_ready": "Face verification is ready.",
    "loading_failed": "Face verification could not be loaded on this device. Please use a "
                      "password instead.",
    "camera_starting": "Starting the camera…",
    "camera_denied": "The camera could not be started ({why}). To use your face, allow the "
                     "camera for this site (the camera icon in the address bar, or the "
                     "browser's site settings), close other apps that use it, and try again. "
                     "Or use a password instead: it works just as well.",
    "camera_label": "Camera preview (mirrored). Only this device sees it.",
    "hold_still": "Hold still… {done} of {total}",
    "checking": "Checking…",
    "start_returning": "Verify as {user} with your face",
    "notice_link": "Read the notice",
    "show_password": "Show password",
    "privacy_details": "Privacy details: what left this device",
    "turn_head": "Good. Now turn your head slowly a little to one side, then back.",
    "hint_ok": "Good. Hold still.",
    "hint_no_face": "Look at the camera.",
    "hint_many_faces": "Only one face, please.",
    "hint_too_small": "Move closer.",
    "hint_cut_off": "Move your face to the middle.",
    "hint_turned": "Look straight at the camera.",
    "hint_too_dark": "More light, please.",
    "hint_too_bright": "Less light, please.",
    "hint_blurred": "Hold still.",
    "enrolled": "Done. Your face is set up for {site} on this device.",
    "verified": "Verified. It's you.",
    "renew_offer": "Your face template was made with an older, less accurate face model. "
                   "Update it now? The camera starts once more; as before, nothing leaves "
                   "this device but a new protected template.",
    "renew_button": "Update my face template",
    "renewed": "Done. Your face template now uses the new face model; the old one is "
               "replaced.",
    "not_matched": "That did not match. You can try again, or use a password.",
    "liveness_passive": "Please make sure your own face is in front of a real camera, close "
                        "enough and in good light, and try again, or use a password instead.",
    "liveness_active": "Please turn your head a little to one side while the camera is on, "
                       "and try again, or use a password instead.",
    "locked": "Face verification is paused on this device after several tries. Please use "
              "your password; your face will work again later.",
    "capture_failed": "We could not see your face clearly enough. {hint}",
    "enrol_verify_first": "This account already has a password or a face set up. Verify with "
                          "your password first; then you can add your face here.",
    "ticket_needed": "This site sets up new accounts only from its own pages. Please open this "
                     "from the site, where you are signed in.",
    "error": "Something went wrong: {what}. Please try again or use a password.",
    "try_again": "Try again",
    "camera_off": "The camera is off.",
    "password_heading": "Verify with your password",
    "password_label": "Password",
    "password_submit": "Verify",
    "password_create_link": "No password yet? Create one",
    "password_new_heading": "Create a password",
    "password_new_label": "New password (at least 8 characters)",
    "password_create_submit": "Save password",
    "password_saved": "Your password is saved.",
    "password_failed": "That did not work. Please check your password and try again.",
    "password_weak": "Please choose a stronger password: {why}",
    "password_too_many": "Too many tries. Please wait a little and try again.",
    "withdraw_link": "Withdraw consent and erase my face data",
    "withdraw_heading": "Withdraw consent",
    "withdraw_explain": "This erases your face template on the server and on this device at "
                        "once, and records that you withdrew. You can still use a password.",
    "withdraw_need_session": "To protect you, please verify first (face or password); then "
                             "you can withdraw here.",
    "withdraw_confirm": "Withdraw and erase",
    "withdraw_done": "Consent withdrawn. Erased: {what}.",
    "erased_template": "face template on the server",
    "erased_device": "helper data on this device",
    "erased_nothing_local": "nothing was stored on this device",
    "sent_heading": "What left this device",
    "sent_note": "Every request this page made, and what each one carried. None contains a "
                 "picture of you or a description of your face.",
    "sent_empty": "Nothing has been sent yet.",
    "use_face_popup_note": "Opens OwnFace's own window, where your face is processed on this "
                           "device only.",
    "popup_heading": "Continue in the OwnFace window",
    "popup_waiting": "Verify in the OwnFace window. This box updates when you are done. No "
                     "window? Your browser may have blocked it: allow pop-ups for this site, "
                     "then open it again.",
    "popup_open_again": "Open the window again",
    "popup_cancel": "Cancel",
    "popup_verified": "Verified. You are signed in to {site}.",
    "popup_banner": "OwnFace window for {site}",
    "popup_done": "Done. This window closes now; return to {site}.",
    "popup_cancelled": "Cancelled. This window closes now.",
    "switch_language": "中文",
    "unknown_site": "This verification page is not set up for that site.",
    "bad_link": "This link is not valid: {what}.",
}

ZH: dict[str, str] = {
    "language_name": "中文",
    "title": "验证您的身份",
    "intro": "{site} 需要确认是您本人。请选择下面两种方式之一：两种方式同样有效。",
    "notice_heading": "关于本网站使用人脸识别",
    "choose_heading": "您想用哪种方式验证？",
    "use_face": "使用人脸识别",
    "use_face_note": "您的面部信息只在本设备上处理，不会发送或保存任何照片。",
    "use_password": "改用密码",
    "use_password_note": "无需摄像头。选择密码不会对您有任何不利影响。",
    "consent_heading": "您的同意",
    "consent_label": "我同意本网站按照上述告知，在本设备上使用人脸识别来验证我的身份。"
                     "我可以随时撤回此同意。",
    "consent_needed": "请勾选同意，或改用密码。",
    "consent_recorded": "您已于 {date} 同意。您可以随时撤回。",
    "start_camera": "同意并打开摄像头",
    "start_verify": "打开摄像头",
    "back": "返回",
    "loading": "正在准备人脸验证：{what}",
    "loading_runtime": "正在启动 Python 运行环境",
    "loading_download": "正在下载，已完成 {done} / {total} MB",
    "loading_models": "人脸模型（{done}/{total}）",
    "loading_ready": "人脸验证已准备就绪。",
    "loading_failed": "本设备无法加载人脸验证。请改用密码。",
    "camera_starting": "正在打开摄像头…",
    "camera_denied": "无法打开摄像头（{why}）。如需使用人脸验证，请允许本网站使用摄像头（地址栏中的"
                     "摄像头图标或浏览器的网站设置），关闭正在使用摄像头的其他应用，然后再试一次。"
                     "您也可以改用密码，效果相同。",
    "camera_label": "摄像头预览（镜像）。只有本设备能看到。",
    "hold_still": "请保持不动…（{done}/{total}）",
    "checking": "正在核对…",
    "start_returning": "以 {user} 的身份用人脸验证",
    "notice_link": "阅读告知",
    "show_password": "显示密码",
    "privacy_details": "隐私详情：哪些数据离开了本设备",
    "turn_head": "很好。现在请慢慢把头稍微转向一侧，再转回来。",
    "hint_ok": "很好，请保持不动。",
    "hint_no_face": "请看向摄像头。",
    "hint_many_faces": "请只保留一张人脸。",
    "hint_too_small": "请靠近一些。",
    "hint_cut_off": "请把脸移到画面中间。",
    "hint_turned": "请正视摄像头。",
    "hint_too_dark": "光线太暗，请增加光线。",
    "hint_too_bright": "光线太亮，请避开强光。",
    "hint_blurred": "请保持不动。",
    "enrolled": "完成。已在本设备上为 {site} 设置人脸验证。",
    "verified": "验证成功，确认是您本人。",
    "renew_offer": "您的人脸模板由较旧、准确度较低的人脸模型生成。现在更新吗？摄像头将再启动一次；"
                   "与之前一样，除新的受保护模板外，任何数据都不会离开本设备。",
    "renew_button": "更新我的人脸模板",
    "renewed": "完成。您的人脸模板现已使用新的人脸模型，旧模板已被替换。",
    "not_matched": "未能匹配。您可以再试一次，或改用密码。",
    "liveness_passive": ("请确保摄像头前是您本人，靠近一台真实的摄像头，光线充足，"
                         "然后再试一次；或改用密码。"),
    "liveness_active": "摄像头开启时，请把头稍微转向一侧，然后再试一次；或改用密码。",
    "locked": "多次尝试后，此设备上的人脸验证已暂停。请使用密码；稍后可再次使用人脸验证。",
    "capture_failed": "未能清楚地看到您的面部。{hint}",
    "enrol_verify_first": "此账户已设置密码或人脸验证。请先用密码验证，之后即可在此添加人脸。",
    "ticket_needed": "本网站只允许从其自己的页面创建新账户。请从您已登录的该网站页面打开此处。",
    "error": "出现问题：{what}。请重试或改用密码。",
    "try_again": "再试一次",
    "camera_off": "摄像头已关闭。",
    "password_heading": "使用密码验证",
    "password_label": "密码",
    "password_submit": "验证",
    "password_create_link": "还没有密码？创建一个",
    "password_new_heading": "创建密码",
    "password_new_label": "新密码（至少 8 个字符）",
    "password_create_submit": "保存密码",
    "password_saved": "您的密码已保存。",
    "password_failed": "验证未通过。请检查密码后重试。",
    "password_weak": "请设置更安全的密码：{why}",
    "password_too_many": "尝试次数过多。请稍等片刻再试。",
    "withdraw_link": "撤回同意并删除我的人脸数据",
    "withdraw_heading": "撤回同意",
    "withdraw_explain": "这将立即删除服务器上和本设备上的人脸模板，并记录您的撤回。"
                        "您仍然可以使用密码。",
    "withdraw_need_session": "为了保护您，请先完成验证（人脸或密码），然后即可在此撤回。",
    "withdraw_confirm": "撤回并删除",
    "withdraw_done": "已撤回同意。已删除：{what}。",
    "erased_template": "服务器上的人脸模板",
    "erased_device": "本设备上的辅助数据",
    "erased_nothing_local": "本设备上没有保存任何数据",
    "sent_heading": "离开本设备的数据",
    "sent_note": "本页面发出的每一个请求及其内容。其中没有您的照片，也没有您面部特征的描述。",
    "sent_empty": "尚未发送任何数据。",
    "use_face_popup_note": "将打开 OwnFace 自己的窗口，您的面部信息只在本设备上处理。",
    "popup_heading": "请在 OwnFace 窗口中继续",
    "popup_waiting": "请在 OwnFace 窗口中完成验证，完成后此处会自动更新。没有看到窗口？浏览器可能"
                     "阻止了它：请允许本网站弹出窗口，然后重新打开。",
    "popup_open_again": "重新打开窗口",
    "popup_cancel": "取消",
    "popup_verified": "验证成功。您已登录 {site}。",
    "popup_banner": "{site} 的 OwnFace 窗口",
    "popup_done": "完成。此窗口即将关闭，请返回 {site}。",
    "popup_cancelled": "已取消。此窗口即将关闭。",
    "switch_language": "English",
    "unknown_site": "此验证页面尚未为该网站设置。",
    "bad_link": "此链接无效：{what}。",
}

# --- the kiosk (front desks and gates: pyapp.browser.kiosk, web/templates/kiosk.html) and the
# printed signs (server.signage). Kept together so the kiosk's words read as one screen set.
KIOSK: dict[str, dict[str, str]] = {
    "en": {
        "kiosk_title": "Check in",
        "kiosk_run_by": "This kiosk is run by {site}.",
        "kiosk_purpose": "It confirms who you are, for example at check-in or at the gate. "
                         "You choose how: both ways are equally quick.",
        "kiosk_face": "Use my face",
        "kiosk_face_note": "Processed only inside this kiosk. No photo is sent or kept.",
        "kiosk_alt_code": "Use my one-time code",
        "kiosk_alt_code_note": "The code {site} gave you (on your booking or by message).",
        "kiosk_alt_staff": "Ask the staff",
        "kiosk_alt_staff_note": "A member of staff confirms who you are.",
        "kiosk_who_room": "Your room or flat number and your name",
        "kiosk_who_code": "The code {site} gave you",
        "kiosk_room": "Room or flat number",
        "kiosk_name": "Name",
        "kiosk_member": "Your code",
        "kiosk_next": "Continue",
        "kiosk_cancel": "Cancel",
        "kiosk_who_invalid": "Please check what you typed: {what}.",
        "kiosk_consent_heading": "Your consent, for this visit",
        "kiosk_consent_label": "I agree that this kiosk uses facial recognition to confirm who "
                               "I am, as described in the notice. I can withdraw at any time.",
        "kiosk_consent_needed": "Please tick the box to agree, or go back and choose the other "
                                "way.",
        "kiosk_start": "Agree and start the camera",
        "kiosk_turn": "Look at the camera, then turn your head a little to one side and "
                      "back.",
        "kiosk_code_heading": "Your one-time code",
        "kiosk_code_label": "One-time code",
        "kiosk_staff_heading": "Staff confirmation",
        "kiosk_staff_label": "Staff code",
        "kiosk_submit": "Confirm",
        "kiosk_code_wrong": "That code did not work (wrong, used or expired). Please check it, "
                            "or ask the staff.",
        "kiosk_confirmed": "Confirmed.",
        "kiosk_confirmed_who": "Confirmed: {who}",
        "kiosk_not_matched": "That did not match. Please try again, or use {alternative}.",
        "kiosk_passive": "We could not confirm that a person is in front of the camera. Please "
                         "stand in good light with your own face towards the camera and try "
                         "again, or use {alternative}.",
        "kiosk_active": "Please turn your head a little to one side and back while the camera "
                        "is on, and try again, or use {alternative}.",
        "kiosk_locked": "Face verification is paused for this account after several tries. "
                        "Please use {alternative}.",
        "kiosk_not_enrolled": "Your face is not set up here. Please use {alternative}; staff "
                              "can set up your face if you wish.",
        "kiosk_other_way": "Use the other way",
        "kiosk_done": "Next person",
        "kiosk_idle": "This kiosk returns to the start after {seconds} seconds without a touch.",
        "kiosk_staff_link": "Staff: set up a face",
        "kiosk_enrol_heading": "Set up a face (staff present)",
        "kiosk_enrol_staff_label": "Staff code",
        "kiosk_enrolled": "Done. The face of {who} is set up here.",
        "kiosk_staff_wrong": "That staff code did not work.",
        "kiosk_not_provisioned": "This kiosk is not set up yet. Staff: open it once with the "
                                 "site's kiosk token.",
        "kiosk_not_portable": "{what} keeps face templates on people's own devices, so it has "
                              "no kiosk. Its operator can switch it to portable mode "
                              "(ownface site set-mode).",
        "kiosk_loading": "Getting ready…",
        "kiosk_ready": "Ready.",
        "kiosk_error": "Something went wrong: {what}. Please use {alternative}.",
        "sign_heading": "Facial recognition is used here",
        "sign_who": "Operated by {site}",
        "sign_what": "Purpose: to confirm who you are at this {place}.",
        "sign_device": "Your face is processed only inside this kiosk or on your own device. "
                       "No photo or video is stored or sent.",
        "sign_kept": "What is kept: a protected key derived from your face (it cannot be turned "
                     "back into a picture), and your consent. It is erased when you withdraw "
                     "consent, and at the latest {days} days after you last use it.",
        "sign_decline": "You do not have to use your face. Ask for {alternative}: it is just "
                        "as quick and has no downside.",
        "sign_scan": "Scan for the full notice and the alternative",
        "sign_place_desk": "desk",
        "sign_alt_code": "a one-time code",
        "sign_alt_staff": "a staff confirmation",
        "sign_notice_heading": "The notice",
    },
    "zh": {
        "kiosk_title": "登记验证",
        "kiosk_run_by": "本终端由 {site} 运营。",
        "kiosk_purpose": "用于确认您的身份，例如办理入住或进入大"
                         "门时。由您选择方式，两种方式同样快捷。",
        "kiosk_face": "使用人脸识别",
        "kiosk_face_note": "只在本终端内处理，不会发送或保存任何照片。",
        "kiosk_alt_code": "使用一次性验证码",
        "kiosk_alt_code_note": "{site} 给您的验证码（在预订信息或短信中）。",
        "kiosk_alt_staff": "请工作人员确认",
        "kiosk_alt_staff_note": "由工作人员确认您的身份。",
        "kiosk_who_room": "您的房间号或门牌号以及姓名",
        "kiosk_who_code": "{site} 给您的编码",
        "kiosk_room": "房间号或门牌号",
        "kiosk_name": "姓名",
        "kiosk_member": "您的编码",
        "kiosk_next": "继续",
        "kiosk_cancel": "取消",
        "kiosk_who_invalid": "请检查您输入的内容：{what}。",
        "kiosk_consent_heading": "本次使用的同意",
        "kiosk_consent_label": "我同意本终端按照上述告知使用人脸识别"
                               "来确认我的身份。我可以随时撤回同意。",
        "kiosk_consent_needed": "请勾选同意，或返回选择另一种方式。",
        "kiosk_start": "同意并打开摄像头",
        "kiosk_turn": "请看向摄像头，然后把头稍微转向一侧再转回来。",
        "kiosk_code_heading": "您的一次性验证码",
        "kiosk_code_label": "一次性验证码",
        "kiosk_staff_heading": "工作人员确认",
        "kiosk_staff_label": "工作人员代码",
        "kiosk_submit": "确认",
        "kiosk_code_wrong": "验证码无效（错误、已使用或已过期）。请检查，或请工作人员帮助。",
        "kiosk_confirmed": "已确认。",
        "kiosk_confirmed_who": "已确认：{who}",
        "kiosk_not_matched": "未能匹配。请再试一次，或使用{alternative}。",
        "kiosk_passive": "未能确认摄像头前是真人。请站在光线充足处，"
                         "让您本人的脸对着摄像头再试一次，或使用{alternative}。",
        "kiosk_active": "请在摄像头开启时把头稍微转向一侧再转回来，然"
                        "后再试一次，或使用{alternative}。",
        "kiosk_locked": "此账户多次尝试后，人脸验证已暂停。请使用{alternative}。",
        "kiosk_not_enrolled": "您的人脸尚未在此设置。请使用{alternative}"
                              "；如您愿意，工作人员可为您设置。",
        "kiosk_other_way": "使用另一种方式",
        "kiosk_done": "下一位",
        "kiosk_idle": "无人操作 {seconds} 秒后，本终端将回到开始页面。",
        "kiosk_staff_link": "工作人员：设置人脸",
        "kiosk_enrol_heading": "设置人脸（需工作人员在场）",
        "kiosk_enrol_staff_label": "工作人员代码",
        "kiosk_enrolled": "完成。{who} 的人脸已在此设置。",
        "kiosk_staff_wrong": "工作人员代码无效。",
        "kiosk_not_provisioned": "本终端尚未设置。工作人员：请用本站点的终端令牌打开一次。",
        "kiosk_not_portable": "{what} 把人脸模板保存在每个人自己的设备上，因此没有终端。"
                              "运营方可将其切换为便携模式（ownface site set-mode）。",
        "kiosk_loading": "正在准备…",
        "kiosk_ready": "已就绪。",
        "kiosk_error": "出现问题：{what}。请使用{alternative}。",
        "sign_heading": "此处使用人脸识别",
        "sign_who": "运营方：{site}",
        "sign_what": "用途：在此{place}确认您的身份。",
        "sign_device": "您的面部信息只在本终端内或您自己的设备"
                       "上处理，不会保存或发送任何照片或视频。",
        "sign_kept": "保存的内容：由您的面部生成的受保护密钥（无法还原成图像）以及您的同意记录。"
                     "您撤回同意时即删除，最迟在您最后一次使用后 {days} 天删除。",
        "sign_decline": "您不必使用人脸识别。请选择{alternative}：同样快捷，没有任何不利影响。",
        "sign_scan": "扫码查看完整告知和替代方式",
        "sign_place_desk": "服务台",
        "sign_alt_code": "一次性验证码",
        "sign_alt_staff": "工作人员确认",
        "sign_notice_heading": "告知",
    },
}
EN.update(KIOSK["en"])
ZH.update(KIOSK["zh"])

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "zh": ZH}


def choose(accept_language: str | None, wanted: str | None = None) -> str:
    """The language to use: an explicit choice, else the browser's preference, else English.

    Tags name a language by their primary subtag: ``zh``, ``zh-CN``, ``zh-Hans``, ``zh-TW``
    all select the Chinese catalogue (Simplified: the only Chinese one)."""
    for tag in [wanted or "", *(part.split(";")[0] for part in
                                (accept_language or "").split(","))]:
        primary = tag.strip().lower().split("-")[0].split("_")[0]
        if primary in CATALOGUES:
            return primary
    return DEFAULT


def text(language: str, key: str, **values: object) -> str:
    catalogue = CATALOGUES.get(language, EN)
    return catalogue.get(key, EN[key]).format(**values)


def hint(language: str, reason: Reason) -> str:
    return text(language, f"hint_{reason.value}")


def missing(languages: Iterable[str] = LANGUAGES) -> dict[str, list[str]]:
    """Keys some catalogue lacks (a test keeps this empty)."""
    keys = set().union(*(CATALOGUES[lang] for lang in languages))
    return {lang: sorted(keys - CATALOGUES[lang].keys()) for lang in languages
            if keys - CATALOGUES[lang].keys()}
