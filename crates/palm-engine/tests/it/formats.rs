//! Property tests of the stored formats: any bytes are answered with a template or a typed error
//! (never a panic), and every template, plain or protected, reads back as it was written.

use palm_engine::protect::{ProtectedTemplate, Transform};
use palm_engine::{Hand, MAX_TEMPLATE_BYTES, Source, Template};
use proptest::prelude::*;

fn template() -> impl Strategy<Value = Template> {
    (
        any::<u32>(),
        0u8..3,
        0u8..=100,
        any::<bool>(),
        any::<[u32; 32]>(),
        proptest::collection::vec(any::<[u32; 32]>(), 1..=6),
    )
        .prop_map(|(fingerprint, hand, quality, roi, mask, planes)| Template {
            fingerprint,
            hand: Hand::from_code(hand).unwrap(),
            quality,
            source: if roi { Source::Roi } else { Source::FullHand },
            mask,
            planes,
        })
}

proptest! {
    #[test]
    fn any_bytes_are_answered(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = Template::from_bytes(&bytes);
        let _ = ProtectedTemplate::from_bytes(&bytes);
    }

    /// Bytes that start like a template (right magic and version) but are otherwise arbitrary
    /// reach the deeper checks: still no panic.
    #[test]
    fn bytes_with_a_good_header_are_answered(
        planes in 0u8..9,
        grid in 30u8..34,
        rest in proptest::collection::vec(any::<u8>(), 0..1100),
    ) {
        let mut bytes = b"PLMT\x01\x00".to_vec();
        bytes.extend_from_slice(&[planes, grid]);
        bytes.extend_from_slice(&rest);
        let _ = Template::from_bytes(&bytes);
        bytes[..4].copy_from_slice(b"PLMP");
        let _ = ProtectedTemplate::from_bytes(&bytes);
    }

    #[test]
    fn templates_read_back(t in template()) {
        let bytes = t.to_bytes();
        prop_assert!(bytes.len() <= MAX_TEMPLATE_BYTES);
        prop_assert_eq!(Template::from_bytes(&bytes).unwrap(), t);
    }

    #[test]
    fn protected_templates_read_back_and_unprotect(
        t in template().prop_filter("protection needs six planes", |t| t.planes.len() == 6),
        key in any::<[u8; 32]>(),
    ) {
        let transform = Transform::new(5, key);
        let protected = transform.protect(&t).unwrap();
        let back = ProtectedTemplate::from_bytes(&protected.to_bytes()).unwrap();
        prop_assert_eq!(back.rows, protected.rows);
        let plain = transform.unprotect(&back).unwrap();
        // Cells the mask drops are not kept.
        prop_assert_eq!(plain.mask, t.mask);
        for (a, b) in plain.planes.iter().zip(&t.planes) {
            for r in 0..32 {
                prop_assert_eq!(a[r], b[r] & t.mask[r]);
            }
        }
    }
}
