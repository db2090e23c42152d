"use strict";
const cfg = PL.config();
const camera = new Camera(PL.$("video"));
const REASONS = {
  welcome: "Welcome", goodbye: "Goodbye", palm_not_recognised: "Palm not recognised - try again",
  needs_hint: "Please see staff", no_pass: "No ticket for this event", event_not_open: "Not open yet",
  event_over: "The event is over", already_inside: "Already inside", no_reentry: "No re-entry",
  venue_full: "The venue is full", age_not_verified: "Age check needed - please see staff",
  not_inside: "Not checked in", welcome_back: "Welcome back", card_declined: "Card declined - please see staff",
  no_card: "No card on file - please see staff", card_unavailable: "Card check failed - try again",
};
PL.$("event").value = cfg.event || "";
PL.$("event").onchange = () => PL.save({ event: PL.$("event").value.trim() });
let hideTimer = null;

// The verdict covers the screen for a few seconds, then the gate is ready for the next person.
// A new scan, or one that fails, never leaves the previous person's verdict up.
function clearVerdict() {
  clearTimeout(hideTimer);
  PL.show("panel", false);
  delete PL.$("panel").dataset.reason;
}

async function scan(image) {
  PL.text("error", "");
  clearVerdict();
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
    hideTimer = setTimeout(clearVerdict, 6000);
  } catch (e) {
    PL.text("error", e.message);
  }
}

PL.$("panel").onclick = clearVerdict;
PL.cameraButton(camera, "camera", "camera-box", "error");
PL.$("snap").onclick = () => PL.busy(["snap", "file"], () => scan(camera.capture()));
PL.$("file").onchange = (ev) => {
  const file = ev.target.files[0];
  ev.target.value = "";
  if (file) PL.busy(["snap", "file"], async () => scan(await PL.fileToBase64(file)));
};
