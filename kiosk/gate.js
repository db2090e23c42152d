"use strict";
const cfg = PL.config();
const camera = new Camera(PL.$("video"));
const REASONS = {
  welcome: "Welcome", goodbye: "Goodbye", palm_not_recognised: "Palm not recognised - try again",
  needs_hint: "Please see staff", no_pass: "No ticket for this event", event_not_open: "Not open yet",
  event_over: "The event is over", already_inside: "Already inside", no_reentry: "No re-entry",
  venue_full: "The venue is full", age_not_verified: "Age check needed - please see staff",
  not_inside: "Not checked in",
};
PL.$("event").value = cfg.event || "";
PL.$("event").onchange = () => PL.save({ event: PL.$("event").value.trim() });
let hideTimer = null;

async function scan(image) {
  PL.text("error", "");
  try {
    const d = await PL.api("POST", "/v1/gate/scans", cfg.gate, {
      event: PL.$("event").value.trim(), image, direction: PL.$("direction").value,
    });
    const panel = PL.$("panel");
    panel.classList.toggle("ok", d.allowed);
    panel.classList.toggle("bad", !d.allowed);
    PL.text("verdict", d.allowed ? "GO" : "STOP");
    PL.text("why", REASONS[d.reason] || d.reason);
    panel.dataset.reason = d.reason;
    PL.show("panel", true);
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => PL.show("panel", false), 6000);
  } catch (e) {
    PL.text("error", e.message);
  }
}

PL.cameraButton(camera, "camera", "camera-box", "error");
PL.$("snap").onclick = () => scan(camera.capture());
PL.$("file").onchange = async (ev) => { if (ev.target.files[0]) scan(await PL.fileToBase64(ev.target.files[0])); ev.target.value = ""; };
