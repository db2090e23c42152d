//! Idempotency keys as a use case: a request sent with `Idempotency-Key` runs once per key and
//! credential; a retry with the same request gets the first answer back (sealed at rest, see
//! `answers.rs`), the same key with another request is refused, and a key whose request ended
//! without an answer (a crash, a request cut off by its time limit, a server error) is taken over
//! by the next retry, which runs as *resumed* so the use cases answer with what the first run
//! did. The HTTP edge only reads the header and the body and hands them here.

use crate::Service;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::store::{Claim, KeyHolder, KeyedRequest};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What to do with a keyed request.
pub enum Keyed {
    /// Run it (first use, or taken over from a run that ended unanswered).
    Run(KeyedRequest),
    /// Answer with what its first run answered.
    Replay { status: u16, body: Vec<u8> },
}

/// How long after a request's time limit its key is still taken to be in use.
const ABANDON_MARGIN_S: i64 = 5;

impl Service {
    /// Claims `key` for a request with credential `scope`, `method`, `path` and `body`.
    /// `request_timeout` is the edge's limit on one request: a key left unanswered longer than
    /// that was abandoned.
    pub async fn begin_keyed(
        &self,
        scope: &str,
        key: &str,
        (method, path, body): (&str, &str, &[u8]),
        request_timeout: Duration,
    ) -> Result<Keyed> {
        if key.is_empty()
            || key.len() > 255
            || !key
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
        {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ));
        }
        let mut digest = Sha256::new();
        digest.update(method);
        digest.update(b" ");
        digest.update(path);
        digest.update(b"\n");
        digest.update(body);
        let request_hash = hex::encode(digest.finalize());
        let now = self.now_s();
        let holder = KeyHolder {
            run: self.run_id(),
            abandoned_before: now - request_timeout.as_secs() as i64 - ABANDON_MARGIN_S,
        };
        let resumed = match self
            .store
            .claim_key(scope, key, &request_hash, now, &holder)
            .await?
        {
            Claim::New => false,
            Claim::Resumed => {
                tracing::info!(
                    "an idempotency key whose first request ended unanswered is run again"
                );
                true
            }
            Claim::Seen {
                request_hash: stored,
                ..
            } if stored != request_hash => {
                return Err(ServiceError::new(
                    ErrorKind::Idempotency,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request; use a new key",
                ));
            }
            Claim::Seen { response: None, .. } => {
                return Err(ServiceError::new(
                    ErrorKind::Idempotency,
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being processed",
                ));
            }
            Claim::Seen {
                response: Some((status, stored)),
                ..
            } => {
                return Ok(Keyed::Replay {
                    status: u16::try_from(status).unwrap_or(200),
                    body: self.open_answer(scope, key, &stored)?,
                });
            }
        };
        Ok(Keyed::Run(KeyedRequest {
            scope: scope.to_string(),
            key: key.to_string(),
            resumed,
        }))
    }

    /// Records the answer to a keyed request: kept (sealed) for replay, or, for a server error
    /// or an answer that cannot be sealed, the key is released so a retry runs again. A failure
    /// here is logged, not returned: the client gets its answer either way.
    pub async fn finish_keyed(&self, request: &KeyedRequest, status: u16, body: &[u8]) {
        let (scope, key) = (request.scope.as_str(), request.key.as_str());
        let stored = if status >= 500 {
            self.store.release_key(scope, key).await
        } else {
            match self.seal_answer(scope, key, body) {
                Ok(sealed) => {
                    self.store
                        .complete_key(scope, key, i64::from(status), &sealed)
                        .await
                }
                // Unsealable (no master key): keep nothing rather than the answer in clear.
                Err(_) => self.store.release_key(scope, key).await,
            }
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "idempotency record not saved");
        }
    }

    /// Forgets idempotency records older than the configured time to live.
    pub async fn purge_keys(&self) -> Result<u64> {
        let before = self.now_s() - self.config.idempotency_ttl_s;
        Ok(self.store.purge_keys(before).await?)
    }
}
