//! The service's own requests, checked when they are made (before any use case runs): each
//! refusal names the field it is about, as the HTTP edge passes it on.

use palm_service::ServiceError;
use palm_service::devices::{NewDevice, PairingTarget};
use palm_service::entry::{AgeCheck, NewEvent, NewVenue};
use palm_service::loyalty::{NewProgram, NewReward};
use palm_service::presented::{CaptureInput, Direction, Presentation};
use palm_service::signup_input::{CardEntry, JoinAtSignup};
use palm_service::trips::{ItemReport, TripEntry, WalkOut};

#[test]
fn loyalty_requests_are_checked_before_any_use_case_runs() {
    let refused = |e: ServiceError| (e.code, e.param);
    assert_eq!(
        refused(NewProgram::new("Stamps", 0).unwrap_err()),
        ("invalid_points", Some("points_per_unit".to_string()))
    );
    assert_eq!(
        NewProgram::new("Stamps", 1000).unwrap().points_per_unit,
        1000
    );
    assert_eq!(
        refused(NewReward::new("5 off", 200, -1, "usd").unwrap_err()).1,
        Some("discount".to_string())
    );
    assert_eq!(
        refused(NewReward::new("5 off", 0, 500, "usd").unwrap_err()).1,
        Some("points_cost".to_string())
    );
    assert_eq!(
        refused(NewReward::new("5 off", 200, 500, "xyz").unwrap_err()).1,
        Some("currency".to_string())
    );
    let reward = NewReward::new("5 off", 200, 500, "usd").unwrap();
    assert_eq!(reward.discount.minor_units(), 500);
}

#[test]
fn venue_event_and_age_check_requests_are_checked_before_any_use_case_runs() {
    let refused = |e: ServiceError| (e.code, e.param);
    assert_eq!(
        refused(NewEvent::new("Gig", 100, 100, 10).unwrap_err()),
        ("invalid_times", Some("ends".to_string()))
    );
    assert_eq!(
        refused(NewEvent::new("Gig", 100, 200, 0).unwrap_err()),
        ("invalid_capacity", Some("capacity".to_string()))
    );
    let event = NewEvent::new("Gig", 100, 200, 10)
        .unwrap()
        .with_reentry(true);
    assert!(event.reentry && event.capacity == 10);
    assert_eq!(
        refused(AgeCheck::new("+447700900007", "library_card", "Sam").unwrap_err()).1,
        Some("document_type".to_string())
    );
    assert!(AgeCheck::new("not a phone", "passport", "Sam").is_err());
    let check = AgeCheck::new("+447700900007", "passport", "Sam").unwrap();
    assert_eq!(check.document_type, "passport");
    assert_eq!(
        refused(NewVenue::new("Hall", vec![]).unwrap_err()),
        ("gate_count", Some("gates".to_string()))
    );
    assert_eq!(
        refused(
            NewVenue::new("Hall", vec![("Door".into(), false), ("\u{7}".into(), true)])
                .unwrap_err()
        )
        .1,
        Some("gates[1].name".to_string())
    );
    assert_eq!(
        refused(WalkOut::new("usd", 5000, 5001).unwrap_err()),
        (
            "invalid_tax_rate",
            Some("walk_out.tax_rate_bps".to_string())
        )
    );
    assert_eq!(
        refused(WalkOut::new("usd", -1, 0).unwrap_err()).1,
        Some("walk_out.hold".to_string())
    );
    let venue = NewVenue::new("Hall", vec![("Door".into(), true)])
        .unwrap()
        .with_walk_out(Some(WalkOut::new("USD", 5000, 825).unwrap()));
    assert!(venue.gates[0].age_restricted);
    assert_eq!(venue.walk_out.unwrap().currency.to_string(), "usd");
}

#[test]
fn item_reports_are_checked_before_any_use_case_runs() {
    let param = |e: ServiceError| e.param;
    let item = || ItemReport::new("e1", "take", "sku-1", "Apples");
    assert_eq!(
        param(ItemReport::new("e1", "steal", "sku-1", "Apples").unwrap_err()),
        Some("kind".to_string())
    );
    assert_eq!(
        param(ItemReport::new("", "take", "sku-1", "Apples").unwrap_err()),
        Some("id".to_string())
    );
    assert_eq!(
        param(item().unwrap().counted(0, 100).unwrap_err()),
        Some("quantity".to_string())
    );
    assert_eq!(
        param(item().unwrap().counted(1, -5).unwrap_err()),
        Some("unit_price".to_string())
    );
    assert_eq!(
        param(item().unwrap().sensed(Some(1.5), None).unwrap_err()),
        Some("confidence".to_string())
    );
    assert_eq!(
        param(item().unwrap().sensed(None, Some(-1)).unwrap_err()),
        Some("occurred_ms".to_string())
    );
    let report = item()
        .unwrap()
        .counted(3, 250)
        .unwrap()
        .sensed(None, None)
        .unwrap();
    assert_eq!(
        (
            report.quantity,
            report.unit_price.minor_units(),
            report.confidence
        ),
        (3, 250, 1.0)
    );
    assert_eq!(
        report.occurred_ms, None,
        "stamped on arrival by the use case"
    );
}

#[test]
fn pairing_and_device_requests_are_checked_before_any_use_case_runs() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    assert_eq!(
        PairingTarget::new(Some("till_1".into()), Some("gate_1".into()))
            .unwrap_err()
            .code,
        "invalid_pairing_target"
    );
    assert!(PairingTarget::new(None, None).is_err());
    assert_eq!(
        PairingTarget::new(None, Some("gate_1".into())).unwrap(),
        PairingTarget::Gate("gate_1".into())
    );
    // A real Ed25519 public key, and any 32 bytes for X25519.
    let signing = palm_vault::device::DeviceKey::from_secret(&[5u8; 32]);
    let (sign, seal) = (b64(&signing.public()), b64(&[7u8; 32]));
    let param = |e: ServiceError| e.param;
    assert_eq!(
        param(NewDevice::new("ab-cd", " ", &sign, &seal).unwrap_err()),
        Some("name".to_string())
    );
    assert_eq!(
        param(NewDevice::new("ab-cd", "Till tablet", &b64(&[1u8; 31]), &seal).unwrap_err()),
        Some("signing_key".to_string())
    );
    assert_eq!(
        param(NewDevice::new("ab-cd", "Till tablet", &sign, "not base64!").unwrap_err()),
        Some("seal_key".to_string())
    );
    let device = NewDevice::new(" ab-cd ", " Till tablet ", &sign, &seal).unwrap();
    assert_eq!(
        (device.pairing_code.as_str(), device.name.as_str()),
        ("AB-CD", "Till tablet"),
        "codes are typed in any case; names trimmed"
    );
}

#[test]
fn gate_trip_and_sign_up_requests_are_checked_before_any_use_case_runs() {
    let refused = |e: ServiceError| (e.code, e.param);
    let capture = || Presentation::One(CaptureInput::Plain("aGFuZA==".into()));
    assert_eq!(Direction::parse(None).unwrap(), Direction::In);
    assert_eq!(Direction::parse(Some("out")).unwrap(), Direction::Out);
    assert_eq!(
        refused(Direction::parse(Some("sideways")).unwrap_err()),
        ("invalid_direction", Some("direction".to_string()))
    );
    assert_eq!(TripEntry::new(capture(), None, None).unwrap().party_size, 1);
    assert_eq!(
        TripEntry::new(capture(), None, Some(10))
            .unwrap()
            .party_size,
        10
    );
    for party in [0, 11, -1] {
        assert_eq!(
            refused(TripEntry::new(capture(), None, Some(party)).unwrap_err()),
            ("invalid_party_size", Some("party_size".to_string()))
        );
    }
    let join = JoinAtSignup::new(Some("prog_1".into()), None, 0).unwrap();
    assert_eq!(join.program, "prog_1");
    for program in [None, Some(String::new())] {
        assert_eq!(
            refused(JoinAtSignup::new(program, Some("M-1".into()), 2).unwrap_err()),
            (
                "program_required",
                Some("memberships[2].program".to_string())
            )
        );
    }
    // A card typed in never shows more than its last four digits, nor its security code.
    let card = CardEntry {
        number: "4242 4242 4242 4242".into(),
        exp_month: 12,
        exp_year: 2035,
        holder_name: "Ada Palm".into(),
        cvc: Some("123".into()),
    };
    let shown = format!("{card:?}");
    assert!(shown.contains("****4242") && !shown.contains("4242 4242") && !shown.contains("123"));
}
