// Palmline kiosk: helpers shared by the pages. The pages use only the public HTTP API, with
// the credentials kept in this browser (from the link `palmline serve` prints, or the settings
// on the start page).
"use strict";

const PL = {
  // Frames in one hover: what the service decides as one piece of evidence (tills and gates).
  HOVER_FRAMES: 3,
  // The merchant key (sk_: refunds, devices, webhooks) lives in this tab's session only and is
  // used by the merchant screen alone; the till and gate pages work with their own restricted
  // credentials (tk_, gk_), which are kept.
  config() {
    const read = (store) => { try { return JSON.parse(store.getItem("palmline") || "{}"); } catch { return {}; } };
    const kept = read(localStorage);
    delete kept.key; // written by earlier versions
    return { ...kept, ...read(sessionStorage) };
  },
  save(values) {
    const all = { ...PL.config(), ...values };
    const { key, ...rest } = all;
    localStorage.setItem("palmline", JSON.stringify(rest));
    sessionStorage.setItem("palmline", JSON.stringify(key ? { key } : {}));
  },
  // `#key=sk_...&till=tk_...&till_id=till_...&gate=gk_...` on any page: kept, then removed from the address.
  takeFromHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const found = {};
    for (const k of ["key", "till", "till_id", "gate", "event"]) if (h.get(k)) found[k] = h.get(k);
    if (Object.keys(found).length) {
      PL.save(found);
      history.replaceState(null, "", location.pathname + location.search);
    }
  },
  // A key for Idempotency-Key: a retried click never charges twice.
  newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  },
  async api(method, path, credential, body) {
    const headers = { Authorization: "Bearer " + (credential || "") };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method === "POST") headers["Idempotency-Key"] = PL.newKey();
    let r;
    try {
      r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const err = new Error("cannot reach the Palmline server");
      err.body = { code: "network" };
      throw err;
    }
    let data = null;
    try { data = await r.json(); } catch { data = null; }
    if (!r.ok) {
      const err = new Error((data && data.message) || "the server answered " + r.status);
      err.status = r.status;
      err.body = data || {};
      throw err;
    }
    return data;
  },
  // A picked file as base64 (no data: prefix).
  fileToBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",")[1]);
      reader.onerror = () => reject(new Error("cannot read " + file.name));
      reader.readAsDataURL(file);
    });
  },
  money(minor, currency) {
    const c = (currency || "usd").toUpperCase();
    try { return new Intl.NumberFormat(undefined, { style: "currency", currency: c }).format(minor / 100); }
    catch { return (minor / 100).toFixed(2) + " " + c; }
  },
  // A Unix time (seconds) as this browser writes a date and time.
  when(s) { return new Date(s * 1000).toLocaleString(); },
  card(c) { return c ? c.brand.toUpperCase() + " \u2022\u2022\u2022\u2022 " + c.last4 : ""; },
  // Runs `work` with the controls `ids` disabled, so a second click while a request is in
  // flight does nothing; they are enabled again however it ends.
  async busy(ids, work) {
    const controls = ids.map((id) => PL.$(id)).filter((el) => el && !el.disabled);
    controls.forEach((el) => { el.disabled = true; });
    try { return await work(); } finally { controls.forEach((el) => { el.disabled = false; }); }
  },
  $(id) { return document.getElementById(id); },
  show(id, on) { PL.$(id).classList.toggle("hidden", !on); },
  text(id, t) { PL.$(id).textContent = t; },
};

// The webcam, where the browser allows it (getUserMedia needs localhost or HTTPS).
class Camera {
  constructor(video) { this.video = video; this.stream = null; }
  static available() { return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia); }
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    this.video.srcObject = this.stream;
    await this.video.play();
  }
  // One frame as base64 PNG. The frame is not kept anywhere but in the request.
  capture() {
    const canvas = document.createElement("canvas");
    canvas.width = this.video.videoWidth || 640;
    canvas.height = this.video.videoHeight || 480;
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/png").split(",")[1];
  }
  // The frames of one hover: `count` captures a little apart, as a scanner's burst.
  async burst(count, gapMs = 120) {
    const frames = [];
    for (let i = 0; i < count; i++) {
      if (i) await new Promise((r) => setTimeout(r, gapMs));
      frames.push(this.capture());
    }
    return frames;
  }
  stop() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }
}

// The "Use the camera" button: starts the camera and shows its preview, or says why not.
PL.cameraButton = (camera, button, box, errorId) => {
  PL.$(button).onclick = async () => {
    if (!Camera.available()) { PL.text(errorId, "No camera here (it needs localhost or HTTPS); choose a photo instead."); return; }
    try { await camera.start(); PL.show(box, true); PL.show(button, false); }
    catch (e) { PL.text(errorId, "The camera could not start: " + e.message); }
  };
};

PL.takeFromHash();
