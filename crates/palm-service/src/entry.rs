//! Venue entry: venues with gate devices, events with an allow-list of passes (tickets,
//! memberships, staff), capacity and re-entry rules, age-restricted areas that admit only people
//! staff have age-verified, and a record of every gate decision.
//!
//! A gate gets a decision, not an error, for anything about the person (unknown palm, no pass,
//! full): it shows red with the reason. Only a malformed request (bad image, wrong event) is an
//! error.

use crate::Service;
use crate::domain::{Phone, check_text, new_id, new_secret, secret_hash};
use crate::error::{Result, ServiceError};
use crate::ids::MerchantId;
use crate::presented::{Direction, GateScan, GateVerdict};
use crate::store::{AgeRow, EntryRow, GateRow, PersonRow, VenueEventRow, VenueRow};
use crate::trips::WalkOut;
use crate::views::Listed;

pub(crate) const PASS_KINDS: [&str; 3] = ["ticket", "membership", "staff"];
const DOCUMENT_TYPES: [&str; 3] = ["passport", "driving_licence", "national_id"];

/// A venue a merchant asks for, checked: a printable name, 1 to 100 gates each with one.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVenue {
    pub name: String,
    pub gates: Vec<NewGate>,
    /// A walk-out store: its gates open shopping trips instead of checking event passes.
    pub walk_out: Option<crate::trips::WalkOut>,
}

/// A gate of a new venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGate {
    pub name: String,
    /// An age-restricted area's gate admits only people staff have age-verified.
    pub age_restricted: bool,
}

impl NewVenue {
    /// `gates` as (name, age restricted).
    pub fn new(name: &str, gates: Vec<(String, bool)>) -> Result<NewVenue> {
        let name = check_text(name, "name", 100)?;
        if gates.is_empty() || gates.len() > 100 {
            return Err(
                ServiceError::invalid("gate_count", "a venue has 1 to 100 gates")
                    .with_param("gates"),
            );
        }
        let gates = gates
            .into_iter()
            .enumerate()
            .map(|(i, (name, age_restricted))| {
                Ok(NewGate {
                    name: check_text(&name, &format!("gates[{i}].name"), 100)?,
                    age_restricted,
                })
            })
            .collect::<Result<_>>()?;
        Ok(NewVenue {
            name,
            gates,
            walk_out: None,
        })
    }

    /// A walk-out store (or not).
    pub fn with_walk_out(self, walk_out: Option<crate::trips::WalkOut>) -> NewVenue {
        NewVenue { walk_out, ..self }
    }
}

/// An event a venue asks for, checked: a printable name, doors that close after they open, a
/// capacity from 1 to 1,000,000.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub name: String,
    /// Doors open and close (Unix seconds).
    pub starts: i64,
    pub ends: i64,
    pub capacity: i64,
    /// May someone who left come back in?
    pub reentry: bool,
}

impl NewEvent {
    pub fn new(name: &str, starts: i64, ends: i64, capacity: i64) -> Result<NewEvent> {
        if ends <= starts {
            return Err(
                ServiceError::invalid("invalid_times", "ends must be after starts")
                    .with_param("ends"),
            );
        }
        if !(1..=1_000_000).contains(&capacity) {
            return Err(ServiceError::invalid(
                "invalid_capacity",
                "capacity must be from 1 to 1,000,000",
            )
            .with_param("capacity"));
        }
        Ok(NewEvent {
            name: check_text(name, "name", 100)?,
            starts,
            ends,
            capacity,
            reentry: false,
        })
    }

    /// People who left may come back in.
    pub fn with_reentry(self, reentry: bool) -> NewEvent {
        NewEvent { reentry, ..self }
    }
}

/// Staff's record that they checked a person's ID document (the document is never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeCheck {
    pub phone: Phone,
    /// `passport`, `driving_licence` or `national_id`.
    pub document_type: String,
    /// The staff member who checked it (at most 100 characters).
    pub verified_by: String,
}

impl AgeCheck {
    pub fn new(phone: &str, document_type: &str, verified_by: &str) -> Result<AgeCheck> {
        Ok(AgeCheck {
            phone: Phone::parse(phone)?,
            document_type: one_of(document_type, &DOCUMENT_TYPES, "document_type")?,
            verified_by: check_text(verified_by, "verified_by", 100)?,
        })
    }
}

pub(crate) fn one_of(value: &str, allowed: &[&str], param: &str) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(ServiceError::invalid(
            "invalid_value",
            format!("{param} must be one of: {}", allowed.join(", ")),
        )
        .with_param(param))
    }
}

fn decision(allowed: bool, reason: &str, person: Option<&PersonRow>) -> GateVerdict {
    crate::trips::decision(allowed, reason, person, None)
}

/// A gate as it was created: its credential is shown once, here.
#[derive(Clone, PartialEq)]
pub struct CreatedGate {
    pub gate: GateRow,
    pub credential: String,
}

impl std::fmt::Debug for CreatedGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedGate")
            .field("gate", &self.gate.id)
            .field("credential", &"***")
            .finish()
    }
}

/// A new venue with its gates and, for a walk-out store, its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedVenue {
    pub venue: VenueRow,
    pub gates: Vec<CreatedGate>,
    pub walk_out: Option<WalkOut>,
}

/// An ID check recorded (or, for a number no one enrolled, answered the same and not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeRecorded {
    pub document_type: String,
    pub verified_by: String,
    pub verified_at: i64,
}

impl Service {
    pub async fn create_venue(
        &self,
        merchant_id: &MerchantId,
        req: NewVenue,
    ) -> Result<CreatedVenue> {
        let venue = VenueRow {
            id: new_id("ven"),
            merchant_id: merchant_id.clone(),
            name: req.name,
            created: self.now_s(),
        };
        let mut gates = vec![];
        let mut shown = vec![];
        for g in req.gates {
            let credential = new_secret("gk")?;
            let gate = GateRow {
                id: new_id("gate"),
                venue_id: venue.id.clone(),
                merchant_id: merchant_id.clone(),
                name: g.name,
                age_restricted: g.age_restricted,
                secret_hash: secret_hash(&credential),
            };
            shown.push(CreatedGate {
                gate: gate.clone(),
                credential,
            });
            gates.push(gate);
        }
        let walk_out = match &req.walk_out {
            Some(w) => Some(self.new_walk_out(merchant_id, &venue.id, &venue.name, w)?),
            None => None,
        };
        self.store
            .insert_venue(&venue, &gates, walk_out.as_ref())
            .await?;
        Ok(CreatedVenue {
            venue,
            gates: shown,
            walk_out: req.walk_out,
        })
    }

    pub async fn create_event(
        &self,
        merchant_id: &MerchantId,
        venue_id: &str,
        req: NewEvent,
    ) -> Result<VenueEventRow> {
        let venue = self
            .store
            .venue(merchant_id, venue_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("venue"))?;
        let e = VenueEventRow {
            id: new_id("evn"),
            venue_id: venue.id,
            merchant_id: merchant_id.clone(),
            name: req.name,
            starts: req.starts,
            ends: req.ends,
            capacity: req.capacity,
            reentry: req.reentry,
            created: self.now_s(),
        };
        self.store.insert_event(&e).await?;
        Ok(e)
    }

    /// Staff record that they checked an ID document; the document itself is never sent. The
    /// check counts at this merchant's gates only, and the answer is the same whether or not the
    /// phone number is enrolled (no one learns who is enrolled by trying numbers); for a number
    /// no one enrolled nothing is kept.
    pub async fn verify_age(&self, merchant_id: &MerchantId, req: AgeCheck) -> Result<AgeRecorded> {
        let verified_by = format!("{merchant_id}/{}", req.verified_by);
        let document_type = req.document_type;
        let verified_at = self.now_s();
        if let Some(person) = self
            .store
            .person_by_phone(&self.phone_fingerprint(&req.phone))
            .await?
        {
            self.store
                .set_age_verified(&AgeRow {
                    merchant_id: merchant_id.clone(),
                    person_id: person.id,
                    verified_by: verified_by.clone(),
                    document_type: document_type.clone(),
                    verified_at,
                })
                .await?;
        }
        Ok(AgeRecorded {
            document_type,
            verified_by,
            verified_at,
        })
    }

    /// The merchant's gate decisions (online and uploaded offline ones), paged by id.
    pub async fn list_entries(
        &self,
        merchant_id: &MerchantId,
        page: &crate::store::Page,
    ) -> Result<Listed<EntryRow>> {
        crate::paged(
            page,
            async |pg| self.store.entries(merchant_id, pg).await,
            EntryRow::clone,
        )
        .await
    }

    /// A palm at a gate: the decision, recorded whatever it is.
    pub async fn gate_scan(&self, gate: &GateRow, req: GateScan) -> Result<GateVerdict> {
        let Some(event) = &req.event else {
            return match self.gate_walk_out(gate).await? {
                Some(walk_out) => self.walk_out_scan(gate, &walk_out, req).await,
                None => Err(ServiceError::invalid(
                    "event_required",
                    "name the event whose passes this gate checks",
                )
                .with_param("event")),
            };
        };
        let event = self
            .store
            .event(&gate.merchant_id, event)
            .await?
            .filter(|e| e.venue_id == gate.venue_id)
            .ok_or_else(|| {
                ServiceError::not_found("event at this gate's venue").with_param("event")
            })?;
        let direction = match req.direction {
            Direction::In if gate.age_restricted => "area",
            Direction::In => "in",
            Direction::Out if !gate.age_restricted => "out",
            Direction::Out => {
                return Err(ServiceError::invalid(
                    "invalid_direction",
                    "an age-restricted area's gate only admits (direction in)",
                )
                .with_param("direction"));
            }
        };
        let hover = self
            .open_presentation(
                &req.presented,
                "gate_scan",
                &format!("{}/{}", gate.id, event.id),
            )
            .await?;
        let person = match self.gate_person(hover, req.phone_last4.as_deref()).await? {
            Ok(p) => p,
            Err(red) => {
                self.record(gate, &event, None, direction, &red).await?;
                return Ok(red);
            }
        };
        self.audit(&person.id, &gate.id, "entry").await?;
        self.accept_invitations(&gate.merchant_id, &person).await?;
        let d = self.decide(gate, &event, &person, direction).await?;
        if self
            .record(gate, &event, Some(&person), direction, &d)
            .await?
        {
            return Ok(d);
        }
        // The last place went to someone else between the checks and the record.
        let full = decision(false, "venue_full", Some(&person));
        self.record(gate, &event, Some(&person), direction, &full)
            .await?;
        Ok(full)
    }

    async fn decide(
        &self,
        gate: &GateRow,
        event: &VenueEventRow,
        person: &PersonRow,
        direction: &str,
    ) -> Result<GateVerdict> {
        let now = self.now_s();
        let deny = |reason: &str| Ok(decision(false, reason, Some(person)));
        let (ins, outs) = self.store.crossings(&event.id, &person.id).await?;
        let inside = ins > outs;
        if direction == "out" {
            return if inside {
                Ok(decision(true, "goodbye", Some(person)))
            } else {
                deny("not_inside")
            };
        }
        if now < event.starts {
            return deny("event_not_open");
        }
        if now > event.ends {
            return deny("event_over");
        }
        if self.store.pass(&event.id, &person.id).await?.is_none() {
            return deny("no_pass");
        }
        if gate.age_restricted {
            return if self
                .store
                .age_verified(&gate.merchant_id, &person.id)
                .await?
                .is_some()
            {
                Ok(decision(true, "welcome", Some(person)))
            } else {
                deny("age_not_verified")
            };
        }
        if inside {
            return deny("already_inside");
        }
        if ins > 0 && !event.reentry {
            return deny("no_reentry");
        }
        Ok(decision(true, "welcome", Some(person)))
    }

    async fn record(
        &self,
        gate: &GateRow,
        event: &VenueEventRow,
        person: Option<&PersonRow>,
        direction: &str,
        d: &GateVerdict,
    ) -> Result<bool> {
        Ok(self
            .store
            .record_entry(
                &EntryRow {
                    id: new_id("ent"),
                    event_id: event.id.clone(),
                    gate_id: gate.id.clone(),
                    person_id: person.map(|p| p.id.clone()),
                    direction: direction.to_string(),
                    allowed: d.allowed,
                    reason: d.reason.clone(),
                    created: self.now_s(),
                    offline: false,
                },
                event.capacity,
            )
            .await?)
    }
}
