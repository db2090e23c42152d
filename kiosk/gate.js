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
  needs_second_hand: "Now hover your other hand", palm_ambiguous: "Palm not clear - try again",
};
const HOVER_FRAMES = PL.HOVER_FRAMES;
// A hover the service could not name by its first hand alone: kept, and sent again beside the
// other hand's hover at the next scan.
let pending = null;
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

// One capture (`frames` of one) or the frames of a hover; the other hand's when it was asked for.
async function scan(frames) {
  PL.text("error", "");
  clearVerdict();
  const palm = pending && frames.length === HOVER_FRAMES
    ? { ...pending, second_hand_frames: frames }
    : frames.length === 1 ? { image: frames[0] } : { frames };
  pending = null;
  try {
    const d = await PL.api("POST", "/v1/gate/scans", cfg.gate, {
      event: PL.$("event").value.trim(), direction: PL.$("direction").value, ...palm,
    });
    if (d.reason === "needs_second_hand") pending = palm;
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
PL.$("snap").onclick = () => PL.busy(["snap", "file"], async () => scan(await camera.burst(HOVER_FRAMES)));
// One photo, or the frames of one hover (a scanner's burst saved as files).
PL.$("file").onchange = (ev) => {
  const files = [...ev.target.files];
  ev.target.value = ""; // the same photos may be chosen again
  if (!files.length) return;
  if (![1, HOVER_FRAMES].includes(files.length)) {
    PL.text("error", "Choose one photo, or the " + HOVER_FRAMES + " frames of one hover.");
    return;
  }
  PL.busy(["snap", "file"], async () => scan(await Promise.all(files.map(PL.fileToBase64))));
};
