//! The use cases without HTTP: palm-service driven directly on a real SQLite store (palm-store),
//! the simulated processor and a clock the test moves. These pin the rules where they live: a
//! payment by palm and its refund, one merchant unable to reach another's payments, idempotent
//! retries answered with the first answer, typed errors for bad input, and a deletion by palm
//! and phone code.

use base64::Engine as _;
use palm_engine::Engine;
use palm_engine::protect::Transform;
use palm_index::{Calibration, Policy, SHIPPED_CALIBRATION};
use palm_service::events::{EventWire, NewEvent};
use palm_service::idempotency::Keyed;
use palm_service::loyalty::NewProgram;
use palm_service::merchants::{self, MerchantCredentials};
use palm_service::payment_input::{NewPayment, NewRefund, PalmPayment};
use palm_service::payment_state::PaymentState;
use palm_service::presented::{CaptureInput, FramesSent, Presentation};
use palm_service::privacy::DeletionStatus;
use palm_service::signup_input::{CaptureSource, CardEntry, Hand, HandCapture, SignUp};
use palm_service::store::{Page, PaymentId, PersonId, TillRow};
use palm_service::views::{CardSummary, PaymentView};
use palm_service::{
    Clock, DevPhoneChannel, ErrorKind, KeySource, ManualClock, Parts, Service, ServiceConfig,
    ServiceError, SimulatedConfig, SimulatedProcessor,
};
use palm_synth::{Capture, Identity, Scene, png_bytes};
use palm_vault::{Fingerprinter, KeyRing, MasterKey, VaultError};
use std::sync::Arc;
use std::time::Duration;

/// A payment as these tests read it.
struct Paid {
    id: String,
    status: PaymentState,
    amount_captured: i64,
    card: Option<CardSummary>,
    person: Option<String>,
    decline_code: Option<String>,
}

impl Paid {
    fn of(v: PaymentView) -> Paid {
        let p = v.payment;
        Paid {
            id: p.id.to_string(),
            status: p.status.state(),
            amount_captured: p.amount_captured.minor_units(),
            card: CardSummary::used_by(&p),
            person: p.person_id.as_ref().map(String::from),
            decline_code: p.status.decline_code().map(str::to_string),
        }
    }
}

/// Events written as names only: these tests read no event's payload (the HTTP suites check
/// the wire form the server writes).
struct NamesOnly;

impl EventWire for NamesOnly {
    fn write(&self, e: &NewEvent<'_>) -> Option<String> {
        Some(format!("{} {}", e.kind, e.id))
    }
}

struct FixedKeys;

impl KeySource for FixedKeys {
    fn load(&self) -> Result<KeyRing, VaultError> {
        Ok(KeyRing::new(MasterKey::new(1, [0x11; 32]), vec![]))
    }
}

struct World {
    service: Service,
    processor: Arc<SimulatedProcessor>,
    phone: Arc<DevPhoneChannel>,
    shop: MerchantCredentials,
    till: TillRow,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = palm_store::SqlStore::sqlite_url(&dir.path().join("palmline.db"));
    let store = Arc::new(palm_store::SqlStore::open(&url).await.unwrap());
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let processor = Arc::new(SimulatedProcessor::new(SimulatedConfig {
        latency: Duration::from_millis(1),
    }));
    let phone = Arc::new(DevPhoneChannel::default());
    let service = Service::start(Parts {
        engine: Arc::new(Engine::default()),
        policy: Policy::new(Calibration::from_text(SHIPPED_CALIBRATION).unwrap()),
        store: store.clone(),
        processor: processor.clone(),
        clock: clock.clone(),
        keys: Arc::new(FixedKeys),
        transforms: vec![Transform::new(1, [0x22; 32])],
        fingerprinter: Fingerprinter::new([0x33; 32]),
        phone: phone.clone(),
        remote_gallery: None,
        event_wire: Arc::new(NamesOnly),
        config: ServiceConfig::default(),
    })
    .await
    .unwrap();
    let shop = merchants::create(
        store.as_ref(),
        "Corner Shop",
        "Main Street",
        &["Till 1".into()],
        clock.now_s(),
    )
    .await
    .unwrap();
    let till = service
        .till(&shop.merchant, &shop.tills[0].id)
        .await
        .unwrap()
        .unwrap();
    World {
        service,
        processor,
        phone,
        shop,
        till,
        _dir: dir,
    }
}

fn palm(seed: u64, k: u64) -> String {
    let img = Identity::new(seed).render(Scene::Roi { size: 128 }, Capture::new(k));
    base64::engine::general_purpose::STANDARD.encode(png_bytes(&img))
}

/// One capture for a payment, with the phone's last four if given.
fn one(image: String, phone_last4: Option<&str>) -> PalmPayment {
    PalmPayment {
        presented: Presentation::One(CaptureInput::Plain(image)),
        phone_last4: phone_last4.map(str::to_string),
        card: None,
        confirm: true,
        reward: None,
    }
}

/// A hover's frames beside an image (as a request may send them), checked as the edge checks
/// them.
fn hover_of(
    frames: Vec<String>,
    image: &str,
    phone_last4: Option<&str>,
) -> Result<PalmPayment, ServiceError> {
    let frames = FramesSent {
        plain: frames,
        sealed: vec![],
    };
    Ok(PalmPayment {
        presented: Presentation::new(
            CaptureInput::Plain(image.into()),
            frames,
            FramesSent::default(),
        )?,
        ..one(String::new(), phone_last4)
    })
}

/// A sign-up of palm `seed`'s right hand from captures 1..=`captures`, with this phone and card.
fn signup(phone: &str, card: &str, seed: u64, captures: u64) -> SignUp {
    SignUp {
        phone: phone.into(),
        card: CardEntry {
            number: card.into(),
            exp_month: 12,
            exp_year: 2035,
            holder_name: "Ada Palm".into(),
            cvc: None,
        },
        consent: Some(palm_service::CONSENT_VERSION.into()),
        captures: (1..=captures)
            .map(|k| HandCapture {
                hand: Hand::Right,
                image: palm(seed, k),
            })
            .collect(),
        memberships: vec![],
        source: CaptureSource::Scanner,
    }
}

/// A Luhn-valid Visa number made from `n`.
fn visa(n: u64) -> String {
    let body = format!("4{n:014}");
    format!("{body}{}", palm_vault::luhn_check_digit(&body))
}

impl World {
    async fn sign_up(&self, seed: u64, phone: &str) -> Result<(), ServiceError> {
        let req = signup(phone, &visa(seed), seed, 3);
        let actor = format!("till:{}", self.till.id);
        self.service
            .sign_up(&actor, &self.shop.merchant, req)
            .await
            .map(drop)
    }

    async fn new_payment(&self, amount: i64) -> Paid {
        self.new_payment_in(amount, "eur").await
    }

    async fn new_payment_in(&self, amount: i64, currency: &str) -> Paid {
        let req = NewPayment::new(amount, None, currency)
            .unwrap()
            .at_till(Some(self.till.id.clone()));
        Paid::of(
            self.service
                .create_payment(&self.shop.merchant, None, req, None)
                .await
                .unwrap(),
        )
    }

    /// Person `seed` hovers until read (new captures; the phone's last four when asked).
    async fn hover(&self, payment: &str, seed: u64, phone: &str) -> Paid {
        let mut hint: Option<String> = None;
        for k in 50..56 {
            let body = one(palm(seed, k), hint.as_deref());
            match self
                .service
                .submit_palm(&self.till, &PaymentId::new(payment), body)
                .await
            {
                Ok(p) => return Paid::of(p),
                Err(e) if e.code == "needs_hint" => hint = Some(phone[phone.len() - 4..].into()),
                Err(e) if e.code == "palm_not_recognised" => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        panic!("person {seed} was never recognised");
    }
}

#[tokio::test]
async fn a_palm_pays_and_a_refund_returns_part_of_it() {
    let w = world().await;
    w.sign_up(7, "+447700900007").await.unwrap();
    w.sign_up(8, "+447700900008").await.unwrap();
    let p = w.new_payment(1250).await;
    assert_eq!(p.status, PaymentState::RequiresPalm);
    let paid = w.hover(&p.id, 8, "+447700900008").await;
    assert_eq!(paid.status, PaymentState::Succeeded);
    assert_eq!(paid.amount_captured, 1250);
    let card = paid.card.expect("the card that paid");
    assert_eq!(card.last4, visa(8)[12..]);
    assert_eq!(w.processor.charge_totals(), (1250, 0, 1));

    let refund = w
        .service
        .refund_payment(
            &w.shop.merchant,
            &PaymentId::new(&p.id),
            NewRefund::new(Some(250), None).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(refund.status.as_str(), "succeeded");
    assert_eq!(w.processor.charge_totals(), (1250, 250, 1));
    let after = w
        .service
        .payment(&w.shop.merchant, &PaymentId::new(&p.id))
        .await
        .unwrap();
    assert_eq!(after.payment.amount_refunded.minor_units(), 250);
    // More than what is left is refused, and nothing moves.
    let e = w
        .service
        .refund_payment(
            &w.shop.merchant,
            &PaymentId::new(&p.id),
            NewRefund::new(Some(1001), None).unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e:?}");
    assert_eq!(w.processor.charge_totals(), (1250, 250, 1));
}

/// A hover of three frames is decided as one: the person pays, a stranger's hover names nobody
/// and charges nothing, and a hover of the wrong size or mixed with an image is refused by name.
#[tokio::test]
async fn a_hover_of_three_frames_pays_as_one_capture() {
    let w = world().await;
    w.sign_up(11, "+447700900011").await.unwrap();
    w.sign_up(12, "+447700900012").await.unwrap();
    let submit = async |payment: &str, body: Result<PalmPayment, ServiceError>| {
        w.service
            .submit_palm(&w.till, &PaymentId::new(payment), body?)
            .await
    };
    let frames = |seed: u64| -> Vec<String> { (60..63).map(|k| palm(seed, k)).collect() };
    let p = w.new_payment(700).await;
    let paid = Paid::of(
        submit(&p.id, hover_of(frames(12), "", Some("0012")))
            .await
            .unwrap(),
    );
    assert_eq!(paid.status, PaymentState::Succeeded);
    assert_eq!(paid.card.unwrap().last4, visa(12)[12..]);
    assert_eq!(w.processor.charge_totals(), (700, 0, 1));

    let q = w.new_payment(300).await;
    let e = submit(&q.id, hover_of(frames(13), "", Some("0012")))
        .await
        .unwrap_err();
    assert_eq!(e.code, "palm_not_recognised", "{e:?}");
    let e = submit(&q.id, hover_of(frames(11)[..2].to_vec(), "", None))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.param.as_deref()),
        ("invalid_frames", Some("frames"))
    );
    let e = submit(&q.id, hover_of(frames(11), &palm(11, 70), None))
        .await
        .unwrap_err();
    assert_eq!(e.code, "image_and_frames");
    let e = submit(
        &q.id,
        hover_of(
            vec![palm(11, 60), "not an image".into(), palm(11, 61)],
            "",
            None,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("frames[1]"), "{e:?}");
    assert_eq!(
        w.processor.charge_totals(),
        (700, 0, 1),
        "nothing else was charged"
    );
}

/// Points count whole currency units: 100 cents of a euro, but every single yen (JPY has no
/// minor unit).
#[tokio::test]
async fn points_are_earned_per_whole_unit_of_each_currency() {
    let w = world().await;
    w.sign_up(9, "+447700900009").await.unwrap();
    let program = w
        .service
        .create_program(&w.shop.merchant, NewProgram::new("Stamps", 2).unwrap())
        .await
        .unwrap();
    let first = w.new_payment(100).await;
    let person = w.hover(&first.id, 9, "+447700900009").await.person.unwrap();
    w.service
        .join_program(
            &w.shop.merchant,
            &program.program.id,
            &PersonId::new(&person),
            None,
        )
        .await
        .unwrap();
    let balance = async || {
        let members = w
            .service
            .members(
                &w.shop.merchant,
                &program.program.id,
                &Page {
                    limit: 10,
                    starting_after: None,
                },
            )
            .await
            .unwrap();
        members.data[0].balance
    };
    let euros = w.new_payment_in(1250, "eur").await;
    w.hover(&euros.id, 9, "+447700900009").await;
    assert_eq!(balance().await, 25, "12.50 EUR at 2 points a euro");
    let yen = w.new_payment_in(1250, "jpy").await;
    w.hover(&yen.id, 9, "+447700900009").await;
    assert_eq!(balance().await, 25 + 2500, "1250 JPY at 2 points a yen");
}

#[tokio::test]
async fn another_merchant_cannot_see_or_refund_a_payment() {
    let w = world().await;
    w.sign_up(9, "+447700900009").await.unwrap();
    let p = w.new_payment(900).await;
    w.hover(&p.id, 9, "+447700900009").await;
    let other = w
        .service
        .create_merchant("Rival", "High Street", &["Front".into()])
        .await
        .unwrap();
    let e = w
        .service
        .payment(&other.merchant, &PaymentId::new(&p.id))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = w
        .service
        .refund_payment(
            &other.merchant,
            &PaymentId::new(&p.id),
            NewRefund::default(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let page = Page {
        limit: 10,
        starting_after: None,
    };
    assert!(
        w.service
            .payments(&other.merchant, &page)
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(
        w.service
            .payments(&w.shop.merchant, &page)
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    assert_eq!(w.processor.charge_totals(), (900, 0, 1));
}

#[tokio::test]
async fn a_keyed_request_runs_once_and_its_retries_get_the_first_answer() {
    let w = world().await;
    let request = ("POST", "/v1/payments", &b"{\"amount\": 500}"[..]);
    let limit = Duration::from_secs(30);
    let begin = async |scope: &str, key: &str, request: (&str, &str, &[u8])| {
        w.service.begin_keyed(scope, key, request, limit).await
    };
    let Keyed::Run(first) = begin("cred", "k-1", request).await.unwrap() else {
        panic!("a new key runs");
    };
    assert!(!first.resumed);
    // While the first run has not answered, a retry is told so.
    let e = begin("cred", "k-1", request).await.err().unwrap();
    assert_eq!(e.code, "idempotency_key_in_use");
    w.service
        .finish_keyed(&first, 201, b"{\"id\": \"pay_1\"}")
        .await;
    match begin("cred", "k-1", request).await.unwrap() {
        Keyed::Replay { status, body } => {
            assert_eq!((status, &body[..]), (201, &b"{\"id\": \"pay_1\"}"[..]))
        }
        Keyed::Run(_) => panic!("an answered key replays"),
    }
    // The same key with another request, or from another credential.
    let other = ("POST", "/v1/payments", &b"{\"amount\": 501}"[..]);
    let e = begin("cred", "k-1", other).await.err().unwrap();
    assert_eq!(e.code, "idempotency_key_reused");
    assert!(matches!(
        begin("other-cred", "k-1", other).await.unwrap(),
        Keyed::Run(_)
    ));
    // A server error is not kept: the retry runs again.
    let Keyed::Run(failing) = begin("cred", "k-2", request).await.unwrap() else {
        panic!()
    };
    w.service.finish_keyed(&failing, 503, b"{}").await;
    assert!(matches!(
        begin("cred", "k-2", request).await.unwrap(),
        Keyed::Run(_)
    ));
    let e = begin("cred", "", request).await.err().unwrap();
    assert_eq!(e.code, "invalid_idempotency_key");
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_writes_nothing() {
    let w = world().await;
    // A payment's sums and currency are checked before any use case can be asked.
    let e = NewPayment::new(-5, None, "eur").unwrap_err();
    assert_eq!(
        (e.kind, e.param.as_deref()),
        (ErrorKind::Invalid, Some("amount"))
    );
    let e = NewPayment::new(5, None, "euro").unwrap_err();
    assert_eq!(
        (e.kind, e.param.as_deref()),
        (ErrorKind::Invalid, Some("currency"))
    );
    // A till the merchant does not have is refused, and no payment is written.
    let elsewhere = NewPayment::new(5, None, "eur")
        .unwrap()
        .at_till(Some("till_nowhere".into()));
    let e = w
        .service
        .create_payment(&w.shop.merchant, None, elsewhere, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let listed = w
        .service
        .payments(
            &w.shop.merchant,
            &Page {
                limit: 10,
                starting_after: None,
            },
        )
        .await
        .unwrap();
    assert!(listed.data.is_empty(), "{:?}", listed.data);
    // A sign-up whose card fails the Luhn check enrols nobody, so the palm stays unknown.
    let mut bad_card = visa(12);
    bad_card.pop();
    bad_card.push(if visa(12).ends_with('0') { '1' } else { '0' });
    let req = signup("+447700900012", &bad_card, 12, 2);
    let e = w
        .service
        .sign_up("till", &w.shop.merchant, req)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e:?}");
    assert_eq!(w.service.palms(), 0);
    let page = Page {
        limit: 10,
        starting_after: None,
    };
    assert!(
        w.service
            .payments(&w.shop.merchant, &page)
            .await
            .unwrap()
            .data
            .is_empty()
    );
}

#[tokio::test]
async fn a_palm_nobody_enrolled_is_not_recognised_and_nothing_is_charged() {
    let w = world().await;
    w.sign_up(7, "+447700900007").await.unwrap();
    let p = w.new_payment(900).await;
    // Person 99 never signed up: every hover gets the kind that counts towards the till's
    // attempt limit (the HTTP edge keys its lockout on it), never a charge.
    for k in 50..53 {
        let e = w
            .service
            .submit_palm(&w.till, &PaymentId::new(&p.id), one(palm(99, k), None))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::NotRecognised | ErrorKind::Palm),
            "{e:?}"
        );
        if e.kind == ErrorKind::NotRecognised {
            assert_eq!(e.code, "palm_not_recognised");
        }
    }
    assert_eq!(w.processor.charge_totals(), (0, 0, 0));
    let still = w
        .service
        .payment(&w.shop.merchant, &PaymentId::new(&p.id))
        .await
        .unwrap();
    assert_eq!(still.payment.status.state(), PaymentState::RequiresPalm);
}

#[tokio::test]
async fn the_card_that_verifies_then_declines_signs_up_and_is_declined_at_the_till() {
    let w = world().await;
    let req = signup("+447700900041", palm_service::VERIFIES_THEN_DECLINES, 41, 3);
    let actor = format!("till:{}", w.till.id);
    w.service
        .sign_up(&actor, &w.shop.merchant, req)
        .await
        .expect("the card passes verification at sign-up");
    let p = w.new_payment(500).await;
    let mut declined = None;
    for k in 50..56 {
        match w
            .service
            .submit_palm(&w.till, &PaymentId::new(&p.id), one(palm(41, k), None))
            .await
        {
            Ok(paid) => {
                let paid = Paid::of(paid);
                declined = Some((paid.status, paid.decline_code));
                break;
            }
            Err(e) if e.kind == ErrorKind::Card => {
                declined = Some((PaymentState::Failed, Some(e.code.to_string())));
                break;
            }
            Err(e) if matches!(e.kind, ErrorKind::NotRecognised | ErrorKind::Palm) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let (status, code) = declined.expect("the palm was read");
    assert_eq!(status, PaymentState::Failed);
    assert_eq!(code.as_deref(), Some("card_declined"));
    assert_eq!(w.processor.charge_totals(), (0, 0, 0));
}

#[tokio::test]
async fn a_deletion_by_palm_and_code_leaves_the_palm_matching_no_one() {
    let w = world().await;
    let phone = "+447700900007";
    w.sign_up(7, phone).await.unwrap();
    w.sign_up(8, "+447700900008").await.unwrap();
    // Hovered until read, as a person at a till would.
    let mut asked = None;
    for k in 50..56 {
        match w
            .service
            .request_deletion(&w.till, &palm(7, k), phone)
            .await
        {
            Ok(a) => {
                asked = Some((a, k));
                break;
            }
            Err(e) if e.code == "palm_not_recognised" => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let (asked, read) = asked.expect("person 7 was never recognised");
    let code = w.phone.last_code(phone).expect("a code was sent");
    let wrong = w
        .service
        .confirm_deletion(&w.till, &asked.id, "000000x")
        .await
        .unwrap_err();
    assert_eq!(wrong.code, "invalid_code");
    let done = w
        .service
        .confirm_deletion(&w.till, &asked.id, &code)
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.erased_everywhere),
        (DeletionStatus::Deleted, true),
        "one machine: gone from the index at once"
    );
    assert_eq!(done.status.as_str(), "deleted");
    // The very picture that named them names no one now; the other person still pays.
    let p = w.new_payment(500).await;
    let e = w
        .service
        .submit_palm(&w.till, &PaymentId::new(&p.id), one(palm(7, read), None))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::NotRecognised | ErrorKind::Palm),
        "{e:?}"
    );
    let paid = w.hover(&p.id, 8, "+447700900008").await;
    assert_eq!(paid.status, PaymentState::Succeeded);
}
