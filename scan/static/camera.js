/*
 * The camera and the decoders: BarcodeDetector where the browser has it, else the vendored
 * jsQR (loaded on demand as a classic script from the page's data-decoder URL). Also decodes a
 * photo of a code. Codes found go to onCode; the caller decides what they mean.
 */

const FRAME_MS = 200; // camera decode rate

let jsqrLoading = null;

export function loadJsQR(url) {
  if (self.jsQR) return Promise.resolve(self.jsQR);
  if (!jsqrLoading) {
    jsqrLoading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      script.async = true;
      script.onload = () => (self.jsQR ? resolve(self.jsQR) : reject(new Error('jsQR missing')));
      script.onerror = () => {
        jsqrLoading = null;
        script.remove();
        reject(new Error('jsQR not loaded'));
      };
      document.head.append(script);
    });
  }
  return jsqrLoading;
}

async function makeDetector() {
  if (!('BarcodeDetector' in self)) return null;
  try {
    if (typeof self.BarcodeDetector.getSupportedFormats === 'function') {
      const formats = await self.BarcodeDetector.getSupportedFormats();
      if (!formats.includes('qr_code')) return null;
    }
    return new self.BarcodeDetector({ formats: ['qr_code'] });
  } catch (e) {
    return null;
  }
}

const canvas = document.createElement('canvas');
const context2d = canvas.getContext('2d', { willReadFrequently: true });

/** Decode with jsQR from an image or video frame, scaled so its long side is at most max. */
function jsqrDecode(source, width, height, max, inversion) {
  const scale = Math.min(1, max / Math.max(width, height));
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  context2d.drawImage(source, 0, 0, canvas.width, canvas.height);
  const image = context2d.getImageData(0, 0, canvas.width, canvas.height);
  const found = self.jsQR(image.data, image.width, image.height, { inversionAttempts: inversion });
  return found && found.data ? found.data : null;
}

async function detectFirst(detector, source) {
  const codes = await detector.detect(source);
  const first = (codes || []).find((c) => c && c.rawValue);
  return first ? first.rawValue : null;
}

/** The text of the code in a photo (a File), or null. */
export async function decodePhoto(file, decoderUrl) {
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const found = await makeDetector();
    if (found) {
      try {
        const text = await detectFirst(found, image);
        if (text) return text;
      } catch (e) { /* try jsQR */ }
    }
    await loadJsQR(decoderUrl);
    for (const max of [1024, 640, 1600]) {
      const text = jsqrDecode(image, image.naturalWidth, image.naturalHeight, max, 'attemptBoth');
      if (text) return text;
    }
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * A camera reading codes continuously. onState(state) is told 'starting', 'on', 'off',
 * 'unavailable' or 'decoder_missing'; onCode(text) every decoded code (the caller ignores
 * repeats).
 */
export class Camera {
  constructor({ video, viewfinder, decoderUrl, onCode, onState }) {
    this.video = video;
    this.viewfinder = viewfinder;
    this.decoderUrl = decoderUrl;
    this.onCode = onCode;
    this.onState = onState || (() => {});
    this.stream = null;
    this.detector = null;
    this.timer = null;
    this.scanning = false;
  }

  async start() {
    if (this.scanning || this.stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.onState('unavailable');
      return;
    }
    this.onState('starting');
    this.detector = await makeDetector();
    if (!this.detector) {
      try {
        await loadJsQR(this.decoderUrl);
      } catch (e) {
        this.onState('decoder_missing');
        return;
      }
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      this.onState('unavailable');
      return;
    }
    this.video.srcObject = this.stream;
    this.viewfinder.hidden = false;
    try {
      await this.video.play();
    } catch (e) { /* frames still arrive for decoding */ }
    this.scanning = true;
    this.onState('on');
    this.next();
  }

  stop() {
    this.scanning = false;
    clearTimeout(this.timer);
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
    this.viewfinder.hidden = true;
    this.onState('off');
  }

  next() {
    if (this.scanning) this.timer = setTimeout(() => this.decodeFrame(), FRAME_MS);
  }

  async decodeFrame() {
    const video = this.video;
    try {
      if (this.scanning && video.readyState >= 2 && video.videoWidth) {
        let text = null;
        if (this.detector) {
          try {
            text = await detectFirst(this.detector, video);
          } catch (e) {
            this.detector = null; // this browser's detector does not work: use jsQR from now on
            await loadJsQR(this.decoderUrl).catch(() => this.onState('decoder_missing'));
          }
        } else if (self.jsQR) {
          text = jsqrDecode(video, video.videoWidth, video.videoHeight, 640, 'dontInvert');
        }
        if (text && this.scanning) this.onCode(text);
      }
    } finally {
      this.next();
    }
  }
}
