//! Identifiers as types. Every query of a merchant's data takes a [`MerchantId`], and one is
//! made only by creating a merchant or by reading a stored row (the merchant an authenticated
//! credential belongs to, or the owner of a till, gate or device), never from text a caller sent:
//! a handler cannot scope a query by an identifier someone typed. A payment's and a person's ids
//! ([`PaymentId`], [`PersonId`]) may come from a caller (a URL names the payment); their types
//! keep one kind of id from being passed where another is meant (a person's id where the
//! payment's belongs, or either as a merchant's):
//!
//! ```
//! use palm_service::ids::PaymentId;
//! fn refund(_: &PaymentId) {}
//! refund(&PaymentId::new("pay_1"));
//! ```
//!
//! ```compile_fail
//! use palm_service::ids::{PaymentId, PersonId};
//! fn refund(_: &PaymentId) {}
//! refund(&PersonId::new("per_1")); // a person's id is not a payment's
//! ```
//!
//! ```compile_fail
//! use palm_service::ids::{MerchantId, PersonId};
//! fn merchants_payments(_: &MerchantId) {}
//! merchants_payments(&PersonId::new("per_1").into()); // nor a merchant's
//! ```

use crate::domain::new_id;

/// Serialised as the bare id (in the credentials files `palmline merchants` and the demo write).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MerchantId(String);

impl MerchantId {
    /// A new merchant's id (`mer_...`).
    pub fn generate() -> MerchantId {
        MerchantId(new_id("mer"))
    }

    /// The id a stored row holds (for the store, reading its own rows back).
    pub fn stored(id: String) -> MerchantId {
        MerchantId(id)
    }
}

/// What every id type is as text: read as its bare id, printed (and debug-printed) as it, and
/// compared with it.
macro_rules! text_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

text_id!(MerchantId);

/// A record's id that callers may name: made new (with its kind's prefix), or taken as given
/// from a caller or a stored row (whether such a record exists, and is the caller's merchant's,
/// is the store's answer to the query that takes it).
macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("A new id (`", $prefix, "_...`).")]
            pub fn generate() -> $name {
                $name(new_id($prefix))
            }

            /// The id as a caller or a stored row names it.
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }
        }

        text_id!($name);

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }
    };
}

record_id!(
    /// A payment's id (`pay_...`).
    PaymentId,
    "pay"
);

record_id!(
    /// A person's id (`per_...`).
    PersonId,
    "per"
);

impl PersonId {
    /// The index's owner of this person's palms (their palms never compete in one decision).
    /// Owners are recomputed whenever the index is built, never stored, so a process-stable
    /// hash serves.
    pub fn owner(&self) -> palm_index::Owner {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        palm_index::Owner(BuildHasherDefault::<DefaultHasher>::default().hash_one(&self.0))
    }
}
