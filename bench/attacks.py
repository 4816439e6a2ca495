"""Synthetic presentation attacks rendered from lfw-dev photos (numpy only, seeded).

What they imitate, and how far they are from real attacks (docs/security.md says the same):

* ``screen``: the photo shown on a phone or tablet held up to the camera: letterboxed on a
  screen whose black level is raised, colours shifted blue, a moire pattern (the screen's
  pixel grid beating with the camera's), a glare spot, a dark bezel with rounded corners,
  fingers over the edge, the device tilted in perspective in front of a blurred room.
* ``print``: the photo printed with a white margin on slightly yellow paper, desaturated,
  with compressed contrast and a light gradient, a thumb on the margin, tilted in front of
  the room.
* ``close``: either of the above held so close that its edges leave the frame (the
  models' known weak spot: no border, no hand in view).
* :func:`plane_motion`: a rigid plane (the printed photo) turned and moved in 3-D in front
  of a pinhole camera: each frame's image is an exact homography of the first.

Not imitated: the real optics of recapture (a screen's actual subpixels and refresh, paper
gloss, specular reflections of the room, focus on a plane, auto-exposure reacting to a
bright screen), the camera's own processing, and people's ways of holding things. Real
print and replay sets will differ; the reviewer's held-out sets are the real test.
"""

from __future__ import annotations

import numpy as np

from pyapp.face.frame import resize, sample

FRAME_H, FRAME_W = 480, 640
SKIN = np.array([200.0, 150.0, 120.0])
SCREEN_W, PRINT_SIDE = 300, 320  # texture pixels: screen width, printed photo side


def homography_warp(texture: np.ndarray, alpha: np.ndarray, h: np.ndarray,
                    background: np.ndarray) -> np.ndarray:
    """Paint ``texture`` (RGB float, with ``alpha`` 0..1) onto ``background`` through the
    homography ``h`` (texture pixel -> frame pixel)."""
    inv = np.linalg.inv(h)
    ys, xs = np.mgrid[0:background.shape[0], 0:background.shape[1]].astype(np.float64)
    pts = np.stack([xs, ys, np.ones_like(xs)], -1) @ inv.T
    u, v = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    rgba = np.concatenate([texture, alpha[..., None]], axis=2).astype(np.float32)
    got = sample(rgba, u, v)  # zero (transparent) outside the texture
    a = got[..., 3:4]
    out: np.ndarray = background * (1 - a) + got[..., :3] * a
    return out


def room(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    """A blurred, dimmed, enlarged photo as the scene behind the attack (640 x 480)."""
    small = resize(photo.astype(np.float32), 12, 16)
    scene = resize(small, FRAME_H, FRAME_W) * rng.uniform(0.5, 0.9)
    ramp = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), FRAME_W)
    return np.asarray(scene * ramp[None, :, None], np.float64)


def ellipse(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.asarray(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0, np.float64)


def rounded(h: int, w: int, r: float) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    dx = np.maximum(np.maximum(r - xs, xs - (w - 1 - r)), 0)
    dy = np.maximum(np.maximum(r - ys, ys - (h - 1 - r)), 0)
    return np.asarray(dx ** 2 + dy ** 2 <= r ** 2, np.float64)


def screen_texture(rng: np.random.Generator, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A phone (portrait) or tablet (landscape) showing the photo, with its bezel."""
    tablet = rng.random() < 0.4
    sw = SCREEN_W
    sh = int(sw * (0.75 if tablet else 1.9))
    side = min(sw, sh)
    shown = resize(photo.astype(np.float32), side, side).astype(np.float64)
    screen = np.zeros((sh, sw, 3))
    top, left = (sh - side) // 2, (sw - side) // 2
    screen[top:top + side, left:left + side] = shown
    screen = 18 + screen * rng.uniform(0.8, 0.95)  # raised black level, less contrast
    screen *= np.array([rng.uniform(0.85, 0.95), rng.uniform(0.92, 1.0), rng.uniform(1.0, 1.1)])
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float64)
    angle, period = rng.uniform(0, np.pi), rng.uniform(3.0, 9.0)
    wave = np.cos(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
    screen *= (1 - rng.uniform(0.03, 0.1) * (0.5 + 0.5 * wave))[..., None]  # moire
    gx, gy = rng.uniform(0, sw), rng.uniform(0, sh)
    glare = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * rng.uniform(30, 90) ** 2))
    screen += rng.uniform(40, 130) * glare[..., None]
    bezel = int(sw * rng.uniform(0.04, 0.08))
    body = np.full((sh + 2 * bezel, sw + 2 * bezel, 3), rng.uniform(10, 50))
    body[bezel:bezel + sh, bezel:bezel + sw] = screen
    alpha = rounded(body.shape[0], body.shape[1], bezel * 2.5)
    return np.clip(body, 0, 255), alpha


def print_texture(rng: np.random.Generator, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo printed with a white margin on paper, lit unevenly."""
    side = PRINT_SIDE
    shown = resize(photo.astype(np.float32), side, side).astype(np.float64)
    grey = shown.mean(axis=2, keepdims=True)
    shown = grey + (shown - grey) * rng.uniform(0.7, 0.9)  # ink: less saturated
    shown = 25 + shown * rng.uniform(0.75, 0.9)
    margin = int(side * rng.uniform(0.05, 0.14))
    paper = np.ones((side + 2 * margin, side + 2 * margin, 3)) * np.array(
        [rng.uniform(235, 250), rng.uniform(232, 245), rng.uniform(215, 235)])
    paper[margin:margin + side, margin:margin + side] = shown
    paper += rng.normal(0, 2.0, paper.shape)  # paper texture
    n = paper.shape[0]
    light = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.05), n)
    paper *= light[:, None, None] if rng.random() < 0.5 else light[None, :, None]
    return np.clip(paper, 0, 255), np.ones(paper.shape[:2])


def placement(rng: np.random.Generator, h: int, w: int, shown: int, close: bool
              ) -> np.ndarray:
    """A homography putting an h x w texture, whose photo is ``shown`` pixels wide, into
    the frame: scaled so the photo spans 60-95% of the frame's height (120-150% when held
    close, like ``photo_frame``'s webcam-like faces), turned, tilted and shifted."""
    s = rng.uniform(1.2, 1.5) if close else rng.uniform(0.6, 0.95)
    s *= FRAME_H / shown
    t = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1.0]])
    a = rng.uniform(-0.15, 0.15)
    rot = np.array([[np.cos(a) * s, -np.sin(a) * s, 0], [np.sin(a) * s, np.cos(a) * s, 0],
                    [0, 0, 1.0]])
    tilt = np.array([[1, 0, 0], [0, 1, 0],
                     [rng.uniform(-4e-4, 4e-4), rng.uniform(-4e-4, 4e-4), 1.0]])
    shift = np.array([[1, 0, FRAME_W / 2 + rng.uniform(-60, 60)],
                      [0, 1, FRAME_H / 2 + rng.uniform(-30, 30)], [0, 0, 1.0]])
    out: np.ndarray = shift @ tilt @ rot @ t
    return out


def camera(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Slight defocus and sensor noise; an RGBA uint8 frame."""
    k = np.array([1.0, 2.0, 1.0]) / 4
    for _ in range(int(rng.integers(0, 3))):
        img = (np.roll(img, 1, 0) * k[0] + img * k[1] + np.roll(img, -1, 0) * k[2])
        img = (np.roll(img, 1, 1) * k[0] + img * k[1] + np.roll(img, -1, 1) * k[2])
    img = img + rng.normal(0, rng.uniform(1.5, 4.0), img.shape)
    out = np.full((FRAME_H, FRAME_W, 4), 255, np.uint8)
    out[..., :3] = np.clip(np.rint(img), 0, 255)
    return out


def render(kind: str, photo: np.ndarray, scene_photo: np.ndarray,
           rng: np.random.Generator, motions: list[np.ndarray] | None = None
           ) -> list[np.ndarray]:
    """Attack frames (640 x 480 RGBA) of ``kind`` (screen, print, screen-close,
    print-close): one per homography of ``motions`` (frame 0 -> frame k, see
    :func:`plane_motion`; default: one still frame). The same device or paper, held by the
    same hand, in front of the same room, with fresh sensor noise in every frame."""
    base, _, close = kind.partition("-")
    texture, alpha = (screen_texture if base == "screen" else print_texture)(rng, photo[..., :3])
    shown = min(SCREEN_W, texture.shape[0]) if base == "screen" else PRINT_SIDE
    h0 = placement(rng, texture.shape[0], texture.shape[1], shown, close == "close")
    scene = room(rng, scene_photo[..., :3])
    side, rx, ry = int(rng.integers(0, 2)), rng.uniform(25, 45), rng.uniform(45, 80)
    skin = SKIN * rng.uniform(0.6, 1.1)
    frames = []
    for motion in motions or [np.eye(3)]:
        h = motion @ h0
        frame = homography_warp(texture, alpha, h, scene)
        if not close:  # fingers over an edge of the device or the paper
            corner = h @ np.array([[0.0, texture.shape[1]][side], texture.shape[0], 1.0])
            hand = ellipse(FRAME_H, FRAME_W, corner[0] / corner[2], corner[1] / corner[2],
                           rx, ry)
            frame = frame * (1 - hand[..., None]) + skin * hand[..., None]
        frames.append(camera(rng, frame))
    return frames


def plane_motion(rng: np.random.Generator, frames: int, yaw: float, focal: float = 600.0,
                 distance: float = 1.0) -> list[np.ndarray]:
    """Homographies (frame 0 -> frame k) of a plane at ``distance`` (in units of its own size
    in the frame ``focal``) turned by up to ``yaw`` radians, pitched, rolled and moved."""
    c = np.array([FRAME_W / 2, FRAME_H / 2])
    k = np.array([[focal, 0, c[0]], [0, focal, c[1]], [0, 0, 1.0]])
    kinv = np.linalg.inv(k)
    n = np.array([0, 0, 1.0])  # the plane faces the camera in frame 0
    out = []
    end = (rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1), np.array(
        [rng.uniform(-0.1, 0.1), rng.uniform(-0.05, 0.05), rng.uniform(-0.15, 0.15)]))
    for i in range(frames):
        f = i / max(frames - 1, 1)
        ry, rx, rz = yaw * np.sin(np.pi * f), end[0] * f, end[1] * f
        cy, sy, cx, sx, cz, sz = (np.cos(ry), np.sin(ry), np.cos(rx), np.sin(rx),
                                  np.cos(rz), np.sin(rz))
        r = (np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
             @ np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
             @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]))
        t = end[2] * f
        # plane n.X = distance, moved by X' = R (X - d n) + d n + t
        h = r + np.outer((np.eye(3) - r) @ (distance * n) + t, n) / distance
        out.append(k @ h @ kinv)
    return out
