//! Who a till's palm capture belongs to, under the open-set policy, and the first scan that
//! confirms a sign-up made from phone photos.
//!
//! A capture is one frame, or a hover of [`BURST_FRAMES`] frames decided as one piece of
//! evidence (`Gallery::rank_frames` then `fuse_ranked`, as `identify_burst` does, under the
//! fused calibration measured for that many frames: docs/index-and-policy.md); a hover of the
//! other hand, when asked for, joins the same ranking (`rank_more`) under the two-hand one.
//!
//! A phone sign-up is enrolled from pictures no till took (another camera, other light), so its
//! first till capture is held to more than an ordinary scan: it must come with the last four
//! digits of the phone (the search covers that bucket only), and when it matches, the capture is
//! kept as a second template of the hand, so later scans compare till to till.

use crate::domain::bucket_of;
use crate::error::{Result, ServiceError};
use crate::presented::{CaptureInput, Presentation};
use crate::remote::{decide_ranked, rank_locally};
use crate::store::{PalmRow, PersonRow};
use crate::{Service, decode_image, palm_error};
use palm_engine::{Engine, InputKind, Template};
use palm_index::{Calibration, Decision, PalmId, Policy, Search};

pub use crate::presented::BURST_FRAMES;

/// The policy for a hover of [`BURST_FRAMES`] frames of one hand: the shipped fused
/// calibration with `single`'s targets, if it was measured with `engine`'s parameters.
pub(crate) fn burst_policy(engine: &Engine, single: &Policy) -> Option<Policy> {
    fused_policy(engine, single, 1)
}

/// The shipped fused calibration for hovers of `hands` hands with `single`'s targets, if it was
/// measured with `engine`'s parameters.
fn fused_policy(engine: &Engine, single: &Policy, hands: u8) -> Option<Policy> {
    let calibration = Calibration::fused(hands, BURST_FRAMES as u8)?
        .ok()
        .filter(|c| c.fingerprint == engine.params().fingerprint())?;
    Some(Policy {
        calibration,
        ..single.clone()
    })
}

/// The serial decision's stages, as `palm_index::Serial` sets them: the first hand's hover, then
/// both hands' hovers fused, each working to half of `single`'s FPIR target (so the two
/// together stay within it).
pub(crate) fn serial_policies(engine: &Engine, single: &Policy) -> Option<(Policy, Policy)> {
    let half = |p: Policy| Policy {
        target_fpir: p.target_fpir / 2.0,
        ..p
    };
    // The first hand never asks for a hint: a hover it cannot name goes to the second hand.
    let first = Policy {
        max_fnir: 1.0,
        ..half(fused_policy(engine, single, 1)?)
    };
    Some((first, half(fused_policy(engine, single, 2)?)))
}

/// What a till sent: one frame, or the frames of one hover.
pub(crate) enum Hover {
    One(Vec<u8>),
    /// Exactly [`BURST_FRAMES`] frames: made only from a [`Presentation`], which counted them
    /// before any was decoded or opened.
    Burst(Vec<Vec<u8>>),
    /// A hover of each hand (the second sent when the service asked for it), [`BURST_FRAMES`]
    /// frames each.
    TwoHands(Vec<Vec<u8>>, Vec<Vec<u8>>),
}

/// What the engine and the index made of a capture.
struct Probe {
    decision: Decision,
    template: Template,
    /// Whether the capture is good enough to enrol (a first scan's capture is kept only then).
    enrol_grade: bool,
}

impl Service {
    /// A till's presentation decoded, its sealed captures opened for `purpose` and `target`
    /// (each sealed frame carries its own nonce).
    pub(crate) async fn open_presentation(
        &self,
        presented: &Presentation,
        purpose: &str,
        target: &str,
    ) -> Result<Hover> {
        Ok(match presented {
            Presentation::One(c) => {
                Hover::One(self.open_capture(c, "image", purpose, target).await?)
            }
            Presentation::Hover(frames) => {
                Hover::Burst(self.open_frames(frames, "frames", purpose, target).await?)
            }
            Presentation::TwoHands(first, other) => Hover::TwoHands(
                self.open_frames(first, "frames", purpose, target).await?,
                self.open_frames(other, "second_hand_frames", purpose, target)
                    .await?,
            ),
        })
    }

    /// Frames opened one by one ([`Service::open_capture`]); a plain one that is not base64 is
    /// named `{param}[i]`.
    async fn open_frames(
        &self,
        frames: &[CaptureInput],
        param: &str,
        purpose: &str,
        target: &str,
    ) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(frames.len());
        for (i, frame) in frames.iter().enumerate() {
            let named = format!("{param}[{i}]");
            out.push(self.open_capture(frame, &named, purpose, target).await?);
        }
        Ok(out)
    }

    /// Who the palm belongs to, under the open-set policy.
    pub(crate) async fn identify(&self, image: &str, hint: Option<&str>) -> Result<PersonRow> {
        let bytes = decode_image(image, "image")?;
        self.identify_hover(Hover::One(bytes), hint).await
    }

    /// [`Service::identify`] on one frame or a burst.
    pub(crate) async fn identify_hover(
        &self,
        hover: Hover,
        hint: Option<&str>,
    ) -> Result<PersonRow> {
        let bucket = match hint {
            Some(h) => Some(bucket_of(h.trim()).ok_or_else(|| {
                ServiceError::invalid("invalid_hint", "phone_last4 must be four digits")
                    .with_param("phone_last4")
            })?),
            None => None,
        };
        let unavailable = || {
            ServiceError::invalid(
                "frames_unavailable",
                "this server's engine settings have no calibration for hovers of several frames; send one image",
            )
            .with_param("frames")
        };
        // The second hand is asked for only where both stages are calibrated and no hint
        // narrows the search already.
        let serial = self.serial_policies.clone().filter(|_| bucket.is_none());
        let (frames, other, policy, param) = match hover {
            Hover::One(bytes) => (vec![bytes], vec![], self.policy.clone(), "image"),
            Hover::Burst(frames) => {
                let policy = match &serial {
                    Some((first, _)) => first.clone(),
                    None => self.burst_policy.clone().ok_or_else(unavailable)?,
                };
                (frames, vec![], policy, "frames")
            }
            Hover::TwoHands(first, other) => {
                let (_, both) = self.serial_policies.clone().ok_or_else(unavailable)?;
                (first, other, both, "frames")
            }
        };
        let ask_second_hand = serial.is_some() && other.is_empty() && frames.len() > 1;
        let search = Search {
            bucket,
            // One frame's list must hold a runner-up for the ambiguity rule.
            k: Search::default().k.max(2),
            ..Search::default()
        };
        let local = self.indexes_locally().then(|| self.gallery.clone());
        let engine = self.engine.clone();
        let read = self
            .engine_work(move || {
                // Each frame's template, and whether its capture is good enough to enrol. The
                // frames of a hover are read as one: each later frame where the one before left
                // the hand.
                let read = |frames: &[Vec<u8>], param: &str| {
                    engine
                        .extract_hover(frames, InputKind::Auto)
                        .into_iter()
                        .map(|extracted| {
                            let extracted = extracted.map_err(|e| palm_error(e, param))?;
                            let enrol_grade = extracted.quality.enrol_rejection().is_none();
                            Ok((extracted.template, enrol_grade))
                        })
                        .collect::<Result<Vec<_>>>()
                };
                let (templates, enrol_grade): (Vec<Template>, Vec<bool>) =
                    read(&frames, param)?.into_iter().unzip();
                let second: Vec<Template> = read(&other, "second_hand_frames")?
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect();
                // On one machine the search is engine work too, in the same slot. A hover's
                // other frames, and the other hand's when sent, are compared with the people the
                // best frame's search ranked (no second scan; someone that search missed falls
                // back to the phone digits).
                let ranked = match &local {
                    Some(gallery) => Some(
                        rank_locally(gallery, &templates, &second, &search).map_err(|e| {
                            tracing::error!(error = %e, "index refused a probe");
                            ServiceError::internal("the index refused the capture")
                        })?,
                    ),
                    None => None,
                };
                Ok::<_, ServiceError>((templates, second, enrol_grade, ranked))
            })
            .await??;
        let (mut templates, second, enrol_grade, ranked) = read;
        let ranked = match ranked {
            Some(ranked) => ranked,
            None => self.rank_remotely(&templates, &second, &search).await?,
        };
        // The best frame stands for the hover where a capture is kept (a first scan).
        // (A template's quality is its capture's quality score.)
        let best = (0..templates.len())
            .max_by_key(|&i| templates[i].quality)
            .ok_or_else(|| ServiceError::internal("a hover without frames"))?;
        let probe = Probe {
            decision: decide_ranked(&ranked, &search, &policy),
            enrol_grade: enrol_grade[best],
            template: templates.swap_remove(best),
        };
        let not_recognised = || {
            ServiceError::not_recognised("no enrolled palm matches; scan again or pay another way")
        };
        let needs_hint = |why: &str| {
            ServiceError::palm(
                "needs_hint",
                format!(
                    "{why}ask for the last four digits of the person's phone number and send them as phone_last4"
                ),
            )
            .with_param("phone_last4")
        };
        match probe.decision {
            Decision::Match(PalmId(id)) => {
                let person = self
                    .store
                    .person_of_palm(id as i64)
                    .await?
                    .ok_or_else(not_recognised)?;
                let person = if person.pending_since.is_some() {
                    if bucket.is_none() {
                        return Err(needs_hint("first scan since a sign-up from phone photos: "));
                    }
                    self.confirm_first_scan(person, id as i64, &probe).await?
                } else {
                    person
                };
                // Any use of the palm counts as use for the retention period.
                self.store.touch_person(&person.id, self.now_s()).await?;
                Ok(person)
            }
            Decision::NoMatch if ask_second_hand => Err(ServiceError::palm(
                "needs_second_hand",
                "the first hand alone names no one: hover the other hand and send its frames as second_hand_frames together with these frames (or send phone_last4)",
            )
            .with_param("second_hand_frames")),
            Decision::NoMatch => Err(not_recognised()),
            Decision::Ambiguous => Err(ServiceError::palm(
                "palm_ambiguous",
                "the scan fits more than one person; scan again",
            )),
            Decision::NeedsHint => Err(needs_hint("")),
        }
    }

    /// A till capture matched a pending phone sign-up: keep the capture as a second template of
    /// the matched hand and make the enrolment active. A capture too poor to enrol still
    /// identifies the person, who stays pending until a better one.
    async fn confirm_first_scan(
        &self,
        person: PersonRow,
        matched_palm: i64,
        probe: &Probe,
    ) -> Result<PersonRow> {
        if !probe.enrol_grade {
            return Ok(person);
        }
        let Some(hand) = self
            .store
            .palms_of(&person.id)
            .await?
            .into_iter()
            .find(|p| p.id == matched_palm)
            .map(|p| p.hand)
        else {
            return Ok(person);
        };
        let key = self.data_key(&person.wrapped_key)?;
        let id = crate::signup::random_palm_id()?;
        let (template_sealed, protected) = self.seal_palm(&key, id, &probe.template)?;
        let palm = PalmRow {
            id,
            person_id: person.id.clone(),
            hand,
            template_sealed,
            created: self.now_s(),
        };
        if !self.store.confirm_first_scan(&person.id, &palm).await? {
            // Another till confirmed it meanwhile; this capture is not needed.
            return Ok(person);
        }
        self.index_stored_palm(&person.id, id, bucket_of(&person.phone_last4), &protected);
        tracing::info!(person = %person.id, "phone sign-up confirmed by a till capture");
        Ok(PersonRow {
            pending_since: None,
            ..person
        })
    }
}
