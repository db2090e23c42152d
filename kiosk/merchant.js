"use strict";
const cfg = PL.config();

// A payment's state in a merchant's words (the API name stays in the cell's tooltip).
const STATUS = {
  requires_palm: "Waiting for the palm", requires_confirmation: "Waiting for confirmation",
  processing: "Processing", requires_capture: "Authorised", succeeded: "Paid",
  canceled: "Canceled", failed: "Declined",
};

// A walk-out trip's state in a merchant's words.
const TRIP_STATUS = {
  opening: "Entering", open: "Shopping", completing: "Charging", completed: "Done",
  requires_action: "Needs you (card refused the basket)", declined: "Refused at the door",
};

function rows(tableId, items, cells) {
  const table = PL.$(tableId);
  const body = table.querySelector("tbody");
  body.textContent = "";
  if (!items.length) {
    const td = document.createElement("td");
    td.colSpan = table.querySelectorAll("thead th").length;
    td.className = "notice";
    td.textContent = "None yet";
    body.appendChild(document.createElement("tr")).appendChild(td);
    return;
  }
  for (const item of items) {
    const tr = document.createElement("tr");
    for (const c of cells(item)) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function button(label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = "secondary";
  b.onclick = async () => { try { await action(); await load(); } catch (e) { PL.text("error", e.message); } };
  return b;
}

async function load() {
  PL.text("error", "");
  try {
    const payments = await PL.api("GET", "/v1/payments?limit=50", cfg.key);
    rows("payments", payments.data, (p) => {
      const status = document.createElement("span");
      status.textContent = STATUS[p.status] || p.status;
      status.title = p.status + " - " + p.id;
      const left = p.amount_captured - p.amount_refunded;
      return [
        PL.when(p.created), PL.money(p.amount_total, p.currency), status, PL.card(p.card), PL.money(p.amount_refunded, p.currency),
        p.status === "succeeded" && left > 0
          ? button("Refund", async () => {
            if (!window.confirm("Refund " + PL.money(left, p.currency) + " to " + PL.card(p.card) + "?")) return;
            await PL.api("POST", "/v1/payments/" + p.id + "/refunds", cfg.key, {});
          })
          : "",
      ];
    });
    const trips = await PL.api("GET", "/v1/shopping_trips?limit=50", cfg.key);
    rows("trips", trips.data, (t) => {
      const status = document.createElement("span");
      status.textContent = TRIP_STATUS[t.status] || t.status;
      status.title = t.status + " - " + t.id + (t.decline_code ? " (" + t.decline_code + ")" : "");
      return [
        PL.when(t.opened), t.venue, String(t.party_size), status,
        t.status === "open" ? "" : PL.money(t.total, t.currency), PL.money(t.charged, t.currency),
      ];
    });
    const programs = await PL.api("GET", "/v1/loyalty/programs", cfg.key);
    const members = [];
    for (const prog of programs.data) {
      const m = await PL.api("GET", "/v1/loyalty/programs/" + prog.id + "/members?limit=50", cfg.key);
      for (const x of m.data) members.push([prog.name, x.member_number, String(x.balance)]);
    }
    rows("members", members, (m) => m);
    const entries = await PL.api("GET", "/v1/entries?limit=50", cfg.key);
    rows("entries", entries.data, (e) => [
      PL.when(e.created), e.gate, e.direction, (e.allowed ? "admitted: " : "refused: ") + e.reason,
    ]);
    const devices = await PL.api("GET", "/v1/devices?limit=50", cfg.key);
    rows("devices", devices.data, (d) => [
      d.name + " (" + d.id + ")", d.kind, d.till || d.gate, d.revoked ? "revoked" : "active",
      d.revoked ? "" : button("Revoke", () => PL.api("POST", "/v1/devices/" + d.id + "/revoke", cfg.key, {})),
    ]);
    const deliveries = await PL.api("GET", "/v1/webhook_deliveries?limit=20", cfg.key);
    rows("deliveries", deliveries.data, (d) => [d.event_type || d.event || "", d.status, String(d.attempts)]);
    const tills = await PL.api("GET", "/v1/tills", cfg.key);
    const select = PL.$("pair-till");
    select.textContent = "";
    for (const t of tills.data) {
      const o = document.createElement("option");
      o.value = t.id; o.textContent = t.name + " (" + t.store + ")";
      select.appendChild(o);
    }
  } catch (e) {
    PL.text("error", e.message);
  }
}

const pct = (x) => (typeof x === "number" ? (100 * x).toFixed(2) + "%" : "");

async function loadAccuracy() {
  let report;
  try { report = await PL.api("GET", "/v1/accuracy_report", cfg.key); }
  catch (e) { if (e.status !== 404) PL.text("error", e.message); return; }
  const sets = report.sets.filter((r) => r.mode !== "identify");
  rows("accuracy", sets, (r) => [r.set, String(r.images), pct(r.eer), pct(r.fnmr_at_fmr_1e3), pct(r.rank1), String(r.failures_to_acquire)]);
  const synthetic = sets.length > 0 && sets.every((r) => r.set.startsWith("synthetic"));
  PL.text("accuracy-note", synthetic
    ? "Measured at first start on Palmline's synthetic palms, which say nothing about real hands: run palmline eval SET... --report <data_dir>/accuracy on real palm photos for real figures."
    : "Measured " + PL.when(report.generated) + " with palmline eval.");
  if (report.det_curve) {
    // Fetched with the merchant key, shown from memory.
    const r = await fetch(report.det_curve, { headers: { Authorization: "Bearer " + cfg.key } });
    if (r.ok) { PL.$("det").src = URL.createObjectURL(await r.blob()); PL.show("det", true); }
  }
}

PL.$("pair").onclick = async () => {
  try {
    const c = await PL.api("POST", "/v1/devices/pairing_codes", cfg.key, { till: PL.$("pair-till").value });
    PL.text("pair-code", "Pairing code " + c.code + " - valid 10 minutes: palmline scanner pair --server " + location.origin + " --code " + c.code);
  } catch (e) { PL.text("error", e.message); }
};

PL.$("pass-event").value = cfg.event || "";
PL.$("pass-add").onclick = () => PL.busy(["pass-add"], async () => {
  PL.text("error", ""); PL.text("pass-done", "");
  const event = PL.$("pass-event").value.trim();
  try {
    await PL.api("POST", "/v1/events/" + encodeURIComponent(event) + "/passes", cfg.key,
      { phone: PL.$("pass-phone").value.trim(), kind: PL.$("pass-kind").value });
    PL.save({ event });
    PL.text("pass-done", "Pass added: it is taken up at their first scan at this event's gates.");
  } catch (e) { PL.text("error", e.message); }
});

load();
loadAccuracy();
