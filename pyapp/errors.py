"""The one exception hierarchy of pyapp.

Every error pyapp raises derives from :class:`OwnFaceError`. Messages are written for the
person in front of the camera or for the developer reading a log; none of them ever carries
a biometric value, a secret or key material.
"""

from __future__ import annotations

from enum import StrEnum


class OwnFaceError(Exception):
    """Root of every error raised by pyapp."""


class InputError(OwnFaceError, ValueError):
    """A value handed to pyapp is malformed (wrong shape, dtype, size, NaN, truncated...)."""


class UnreadableImage(InputError):
    """An image file cannot be read or decoded (not an image, truncated, unsupported)."""


class ModelError(OwnFaceError):
    """A model file or manifest is missing, malformed, or fails its sha256 check."""


class Reason(StrEnum):
    """Why a frame cannot be used: stable codes the UI maps to user-facing hints."""

    NO_FACE = "no_face"
    MANY_FACES = "many_faces"
    TOO_SMALL = "too_small"
    CUT_OFF = "cut_off"
    TURNED = "turned"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    BLURRED = "blurred"


REASON_TEXT: dict[Reason, str] = {
    Reason.NO_FACE: "No face found. Please look at the camera.",
    Reason.MANY_FACES: "More than one face found. Only one face, please.",
    Reason.TOO_SMALL: "The face is too small. Please move closer.",
    Reason.CUT_OFF: "The face is cut off. Please centre your face in the frame.",
    Reason.TURNED: "The head is turned too far. Please look straight at the camera.",
    Reason.TOO_DARK: "The picture is too dark. Please find more light.",
    Reason.TOO_BRIGHT: "The picture is too bright. Please avoid direct light.",
    Reason.BLURRED: "The picture is blurred. Please hold still.",
}


class QualityError(OwnFaceError):
    """A frame failed a quality gate; ``reason`` says which one."""

    def __init__(self, reason: Reason, detail: str = "", face: object = None) -> None:
        self.reason = reason
        self.detail = detail
        self.face = face  # the detected face when a later gate refused it (never in messages)
        message = REASON_TEXT[reason]
        super().__init__(f"{message} ({detail})" if detail else message)


class CaptureError(OwnFaceError):
    """Too few frames of a burst passed the quality gates; ``reasons`` counts why."""

    def __init__(self, used: int, needed: int, reasons: dict[Reason, int]) -> None:
        self.used = used
        self.needed = needed
        self.reasons = reasons
        most = max(reasons, key=lambda r: reasons[r]) if reasons else Reason.NO_FACE
        super().__init__(
            f"Only {used} of the frames were usable, {needed} needed. {REASON_TEXT[most]}"
        )


class DecodeError(OwnFaceError):
    """An error-correcting decoder could not decode (too many errors)."""


class NotMatched(OwnFaceError):
    """The face does not open this protected template. Raised instead of returning False."""


class CryptoError(OwnFaceError):
    """A cryptographic value is invalid (bad point, bad signature, bad key)."""


class ProtocolError(OwnFaceError, ValueError):
    """A wire message is malformed: unknown field, wrong size, wrong version, bad encoding."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Refused(OwnFaceError):
    """The server refused a request; ``code`` is a key of ``pyapp.protocol.ERRORS``."""

    def __init__(self, code: str, message: str = "", field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message or code)


LIVENESS_TEXT: dict[str, str] = {
    "passive": "Please make sure your own face is in front of the camera, in good light, "
               "and try again, or use your password instead.",
    "active": "Please turn your head a little to one side while the camera is on, and try "
              "again, or use your password instead.",
}


class LivenessRefused(OwnFaceError):
    """A liveness check (``check`` = "passive" or "active") did not pass for this burst.

    The message says what the person can do; it never says "spoof" and carries no score.
    """

    def __init__(self, check: str) -> None:
        self.check = check
        super().__init__(LIVENESS_TEXT[check])
