//! Enrolled palms at rest and in the index. A template is stored only in protected form (the
//! deployment's secret transform, `palm_engine::protect`, through the index's
//! [`palm_index::ProtectedPalm`]) and sealed under its owner's data key, so a leaked database
//! needs both the master key and the transform key before it says anything, and even then its
//! templates cannot be linked to another deployment's.
//!
//! Renewing the transform: `palmline keys renew-transform` adds a new transform generation; at
//! the next start every palm still under an older one (or stored plain, from before protection)
//! is opened, turned back with its old transform, protected under the new one and written back
//! (compare-and-set); the old transform key can then be destroyed, which leaves any copy of the
//! old templates (backups, old database pages) unlinkable to the new ones.

use crate::Service;
use crate::context;
use crate::domain;
use crate::error::{Result, ServiceError};
use crate::store::{OwnedPalm, PalmRow};
use palm_engine::Template;
use palm_engine::protect::Transform;
use palm_index::{PalmId, ProtectedPalm};
use palm_vault::DataKey;

/// What loading the index at start found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub palms: usize,
    /// Palms moved to the current transform from an older one (or from plain storage).
    pub renewed: usize,
    /// Palms under a transform whose key is gone: not searchable; their owners must enrol again.
    pub unreadable: usize,
}

/// A stored template: protected, or plain from a database written before protection existed.
enum Stored {
    Protected(Box<ProtectedPalm>),
    Plain(Template),
}

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    tracing::error!(error = %e, "stored template invalid");
    ServiceError::internal("a stored template is invalid")
}

fn open_stored(key: &DataKey, palm: &PalmRow) -> Result<Stored> {
    let bytes = key.open(
        &palm.template_sealed,
        &context("template", &palm.id.to_string()),
    )?;
    if bytes.starts_with(b"PLMT") {
        return Template::from_bytes(&bytes)
            .map(Stored::Plain)
            .map_err(invalid);
    }
    ProtectedPalm::from_bytes(&bytes)
        .map(|p| Stored::Protected(Box::new(p)))
        .map_err(invalid)
}

/// A stored palm opened with its owner's data key, if it is under transform `transform_id`
/// (the current one): how a matcher process of the palm grid reads the palms it holds.
pub fn open_protected_palm(
    key: &DataKey,
    palm: &PalmRow,
    transform_id: u32,
) -> Result<ProtectedPalm> {
    match open_stored(key, palm)? {
        Stored::Protected(p) if p.transform() == transform_id => Ok(*p),
        _ => Err(ServiceError::internal(
            "a stored palm is not under the current transform",
        )),
    }
}

impl Service {
    /// A template's stored form for palm `palm_id`: protected, then sealed under the data key.
    pub(crate) fn seal_palm(
        &self,
        key: &DataKey,
        palm_id: i64,
        t: &Template,
    ) -> Result<(Vec<u8>, ProtectedPalm)> {
        let protected = self.gallery.protect(t).map_err(|e| {
            tracing::error!(error = %e, "template could not be protected");
            ServiceError::internal("the template could not be protected")
        })?;
        let sealed = key.seal(
            &protected.to_bytes(),
            &context("template", &palm_id.to_string()),
        )?;
        Ok((sealed, protected))
    }

    /// A stored palm under the current transform (as every palm is once the index is loaded).
    pub(crate) fn open_palm(&self, key: &DataKey, palm: &PalmRow) -> Result<ProtectedPalm> {
        open_protected_palm(key, palm, self.gallery.transform_id())
    }

    /// Loads every enrolled palm into the index, renewing those under an older transform.
    pub(crate) async fn load_gallery(&self, older: &[Transform]) -> Result<LoadReport> {
        let mut report = LoadReport::default();
        let mut after = i64::MIN;
        loop {
            let page = self.store.palms_page(after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.palm.id;
            for owned in page {
                let key = self.data_key(&owned.wrapped_key)?;
                let plain = match open_stored(&key, &owned.palm)? {
                    Stored::Protected(p) if p.transform() == self.gallery.transform_id() => {
                        self.index(&owned, &p)?;
                        report.palms += 1;
                        continue;
                    }
                    Stored::Protected(p) => match older.iter().find(|t| t.id() == p.transform()) {
                        Some(t) => t.unprotect(&p.template).map_err(invalid)?,
                        None => {
                            report.unreadable += 1;
                            continue;
                        }
                    },
                    Stored::Plain(t) => t,
                };
                let (sealed, protected) = self.seal_palm(&key, owned.palm.id, &plain)?;
                if self
                    .store
                    .replace_palm_template(
                        owned.palm.id,
                        &owned.palm.template_sealed,
                        &sealed,
                        self.now_s(),
                    )
                    .await?
                {
                    self.index(&owned, &protected)?;
                    report.renewed += 1;
                    report.palms += 1;
                }
            }
        }
        if report.unreadable > 0 {
            tracing::warn!(
                palms = report.unreadable,
                "palms under a transform whose key is gone are not searchable; their owners must enrol again"
            );
        }
        tracing::info!(
            palms = report.palms,
            renewed = report.renewed,
            transform = self.gallery.transform_id(),
            "index loaded"
        );
        Ok(report)
    }

    fn index(&self, owned: &OwnedPalm, palm: &ProtectedPalm) -> Result<()> {
        if !self.indexes_locally() {
            // Matcher processes load it themselves; this process only renews old transforms.
            return Ok(());
        }
        let bucket = domain::bucket_of(&owned.phone_last4);
        self.gallery
            .insert_for(
                owned.palm.person_id.owner(),
                PalmId(owned.palm.id as u64),
                bucket,
                palm,
            )
            .map_err(|e| {
                tracing::error!(error = %e, "palm not loaded into the index");
                ServiceError::internal("an enrolled palm could not be indexed")
            })
    }
}
