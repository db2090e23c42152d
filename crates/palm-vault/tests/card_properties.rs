//! Property tests of card parsing: any text is answered (never a panic), every well-formed number
//! is read back digit for digit, the Luhn check catches every single wrong digit, and no printed
//! form shows more than the first six and last four digits.

use palm_vault::{CardNumber, Cvv, Expiry, luhn_check_digit};
use proptest::prelude::*;

/// A Luhn-valid number of 12 to 19 digits, of no network with lengths of its own (first digit
/// 1, 7, 8 or 9), so every length is well formed.
fn valid_number() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec![1u8, 7, 8, 9]),
        proptest::collection::vec(0u8..10, 10..=17),
    )
        .prop_map(|(first, rest)| {
            let body: String = std::iter::once(first)
                .chain(rest)
                .map(|d| char::from(b'0' + d))
                .collect();
            let check = luhn_check_digit(&body);
            format!("{body}{check}")
        })
}

/// The number as people type it: spaces or dashes between some digits, spaces around.
fn typed(digits: &str, separators: &[u8]) -> String {
    let mut out = String::from(" ");
    for (i, c) in digits.chars().enumerate() {
        out.push(c);
        match separators.get(i) {
            Some(1) => out.push(' '),
            Some(2) => out.push('-'),
            _ => {}
        }
    }
    out.push(' ');
    out
}

proptest! {
    #[test]
    fn any_text_is_answered(text in "\\PC{0,40}") {
        let _ = text.parse::<CardNumber>();
        let _ = text.parse::<Expiry>();
        let _ = text.parse::<Cvv>();
    }

    #[test]
    fn a_well_formed_number_reads_back_and_never_prints_whole(
        digits in valid_number(),
        separators in proptest::collection::vec(0u8..3, 19),
    ) {
        let card: CardNumber = typed(&digits, &separators).parse().unwrap();
        prop_assert_eq!(card.expose_digits(), digits.as_str());
        prop_assert_eq!(card.last4(), &digits[digits.len() - 4..]);
        for shown in [card.masked(), format!("{card}"), format!("{card:?}")] {
            prop_assert!(!shown.contains(&digits), "{} shows the whole number", shown);
            let visible = shown.chars().filter(char::is_ascii_digit).count();
            prop_assert!(visible <= 10, "{} shows {} digits", shown, visible);
        }
    }

    #[test]
    fn every_single_wrong_digit_is_caught(
        digits in valid_number(),
        at in any::<proptest::sample::Index>(),
        delta in 1u8..10,
    ) {
        let mut bytes = digits.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
        let wrong = String::from_utf8(bytes).unwrap();
        prop_assert!(wrong.parse::<CardNumber>().is_err());
    }

    /// A number whose leading digits name a network must have one of that network's lengths.
    #[test]
    fn a_network_number_of_the_wrong_length_is_refused(
        rest in proptest::collection::vec(0u8..10, 13),
    ) {
        let body: String = std::iter::once(4u8).chain(rest).map(|d| char::from(b'0' + d)).collect();
        let fifteen = format!("{body}{}", luhn_check_digit(&body));
        let err = fifteen.parse::<CardNumber>().unwrap_err();
        prop_assert_eq!(err.to_string(), "a Visa card number has 13, 16 or 19 digits");
        let body16 = format!("{body}0");
        let sixteen = format!("{body16}{}", luhn_check_digit(&body16));
        prop_assert!(sixteen.parse::<CardNumber>().is_ok());
    }

    #[test]
    fn expiries_read_back(month in 1u8..=12, year in 0u16..100, four in any::<bool>()) {
        let text = if four {
            format!("{month:02}/{}", 2000 + year)
        } else {
            format!("{month}/{year:02}")
        };
        let e: Expiry = text.parse().unwrap();
        prop_assert_eq!((e.month, e.year), (month, 2000 + year));
    }
}
