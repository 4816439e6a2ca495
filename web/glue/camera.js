// Camera glue: getUserMedia and canvas reads only exist on the main thread.
// Python (in the worker) calls these through PyScript's window proxy.
let stream = null;
let canvas = null;

export const camera = {
  async start(video, width = 640, height = 480) {
    if (!stream) {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: width }, height: { ideal: height }, facingMode: "user" },
        audio: false,
      });
    }
    if (video.srcObject !== stream) video.srcObject = stream;
    await video.play();
    // resolve once a real frame has been presented, not just when metadata is known
    await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
    return [video.videoWidth, video.videoHeight];
  },
  grab(video) {
    const w = video.videoWidth, h = video.videoHeight;
    if (!canvas || canvas.width !== w || canvas.height !== h) canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h);
  },
  stop(video) {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    if (video) video.srcObject = null;
  },
  get active() {
    return stream !== null && stream.getTracks().some((t) => t.readyState === "live");
  },
};
