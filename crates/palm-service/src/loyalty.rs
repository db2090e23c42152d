//! Loyalty: merchants' programs and rewards, memberships linked to a person's palm, points that
//! accrue with each payment in the payment's own transaction (idempotent per payment, reversed
//! by refunds), rewards redeemed as a discount before the card is charged, and a palm at a till
//! presenting loyalty without paying.

use crate::Service;
use crate::domain::{check_text, new_id};
use crate::error::{Result, ServiceError, StoreError};
use crate::ids::{MerchantId, PersonId};
use crate::money::{Amount, Currency};
use crate::store::{MembershipRow, Page, PaymentRow, PointsRow, ProgramRow, RewardRow, TillRow};
use crate::views::Listed;

/// A program with its rewards.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramView {
    pub program: ProgramRow,
    pub rewards: Vec<RewardRow>,
}

/// What a palm at a till shows: the person's memberships and the rewards they can afford.
#[derive(Debug, Clone, PartialEq)]
pub struct LoyaltyPresentation {
    pub person: PersonId,
    pub memberships: Vec<MembershipRow>,
    pub rewards_available: Vec<RewardRow>,
}

/// A loyalty program a merchant asks for, checked: a printable name of at most 100 characters,
/// 1 to 1000 points per whole currency unit charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProgram {
    pub name: String,
    pub points_per_unit: i64,
}

impl NewProgram {
    pub fn new(name: &str, points_per_unit: i64) -> Result<NewProgram> {
        let name = check_text(name, "name", 100)?;
        if !(1..=1000).contains(&points_per_unit) {
            return Err(ServiceError::invalid(
                "invalid_points",
                "points_per_unit must be from 1 to 1000",
            )
            .with_param("points_per_unit"));
        }
        Ok(NewProgram {
            name,
            points_per_unit,
        })
    }
}

/// A reward of a program, checked: its cost in points and its discount bounded like amounts, a
/// currency the service takes.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReward {
    pub name: String,
    pub points_cost: i64,
    pub discount: Amount,
    pub currency: Currency,
}

impl NewReward {
    pub fn new(name: &str, points_cost: i64, discount: i64, currency: &str) -> Result<NewReward> {
        Ok(NewReward {
            name: check_text(name, "name", 100)?,
            // Points are bounded like amounts.
            points_cost: Amount::parse(points_cost, "points_cost", false)?.minor_units(),
            discount: Amount::parse(discount, "discount", false)?,
            currency: Currency::parse(currency)?,
        })
    }
}

pub(crate) fn random_member_number() -> Result<String> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|_| ServiceError::internal("the random source failed"))?;
    Ok(format!("M{:09}", u32::from_le_bytes(b) % 1_000_000_000))
}

impl Service {
    pub async fn create_program(
        &self,
        merchant_id: &MerchantId,
        req: NewProgram,
    ) -> Result<ProgramView> {
        let p = ProgramRow {
            id: new_id("prog"),
            merchant_id: merchant_id.clone(),
            name: req.name,
            points_per_unit: req.points_per_unit,
            created: self.now_s(),
        };
        self.store.insert_program(&p).await?;
        Ok(ProgramView {
            program: p,
            rewards: vec![],
        })
    }

    pub async fn programs(&self, merchant_id: &MerchantId) -> Result<Vec<ProgramView>> {
        let mut out = vec![];
        for program in self.store.programs(merchant_id).await? {
            let rewards = self.store.rewards(&program.id).await?;
            out.push(ProgramView { program, rewards });
        }
        Ok(out)
    }

    pub(crate) async fn program(&self, merchant_id: &MerchantId, id: &str) -> Result<ProgramRow> {
        self.store
            .programs(merchant_id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ServiceError::not_found("loyalty program").with_param("program"))
    }

    pub async fn create_reward(
        &self,
        merchant_id: &MerchantId,
        program_id: &str,
        req: NewReward,
    ) -> Result<RewardRow> {
        let program = self.program(merchant_id, program_id).await?;
        let r = RewardRow {
            id: new_id("rwd"),
            program_id: program.id,
            name: req.name,
            points_cost: req.points_cost,
            discount: req.discount,
            currency: req.currency,
            created: self.now_s(),
        };
        self.store.insert_reward(&r).await?;
        Ok(r)
    }

    /// Links a person to a program on their own request (a sign-up). A merchant adding someone
    /// by phone sends an invitation instead (invitations.rs).
    pub async fn join_program(
        &self,
        merchant_id: &MerchantId,
        program_id: &str,
        person_id: &PersonId,
        member_number: Option<&str>,
    ) -> Result<MembershipRow> {
        let program = self.program(merchant_id, program_id).await?;
        let member_number = match member_number {
            Some(n) => check_text(n, "member_number", 40)?,
            None => random_member_number()?,
        };
        let m = MembershipRow {
            id: new_id("mem"),
            program_id: program.id,
            person_id: person_id.clone(),
            member_number,
            balance: 0,
            created: self.now_s(),
        };
        match self.store.insert_membership(&m).await {
            Err(StoreError::Duplicate(rule)) => Err(if rule.contains("number") {
                ServiceError::conflict(
                    "member_number_taken",
                    "that member number belongs to someone else",
                )
                .with_param("member_number")
            } else {
                ServiceError::conflict(
                    "already_member",
                    "the person is already a member of this program",
                )
            }),
            other => {
                other?;
                Ok(m)
            }
        }
    }

    pub async fn members(
        &self,
        merchant_id: &MerchantId,
        program_id: &str,
        page: &Page,
    ) -> Result<Listed<MembershipRow>> {
        self.program(merchant_id, program_id).await?;
        crate::paged(
            page,
            async |pg| self.store.memberships(program_id, pg).await,
            MembershipRow::clone,
        )
        .await
    }

    /// A palm at a till: the person's memberships and the rewards they can afford.
    pub async fn present_loyalty(
        &self,
        till: &TillRow,
        image: &str,
        phone_last4: Option<&str>,
    ) -> Result<LoyaltyPresentation> {
        let person = self.identify(image, phone_last4).await?;
        self.audit(&person.id, &till.id, "loyalty").await?;
        self.accept_invitations(&till.merchant_id, &person).await?;
        let memberships = self
            .store
            .memberships_of(&till.merchant_id, &person.id)
            .await?;
        let mut rewards_available = vec![];
        for m in &memberships {
            for r in self.store.rewards(&m.program_id).await? {
                if r.points_cost <= m.balance {
                    rewards_available.push(r);
                }
            }
        }
        Ok(LoyaltyPresentation {
            person: person.id,
            memberships,
            rewards_available,
        })
    }

    /// Applies a reward to a payment about to be authorised: checks it belongs to the merchant,
    /// matches the currency, and that the person has the points; sets the discount.
    pub(crate) async fn apply_reward(
        &self,
        p: &mut PaymentRow,
        person_id: &PersonId,
        reward_id: &str,
    ) -> Result<()> {
        let invalid = || {
            ServiceError::invalid("unknown_reward", "no such reward at this merchant")
                .with_param("reward")
        };
        let reward = self.store.reward(reward_id).await?.ok_or_else(invalid)?;
        let membership = self
            .store
            .memberships_of(&p.merchant_id, person_id)
            .await?
            .into_iter()
            .find(|m| m.program_id == reward.program_id)
            .ok_or_else(invalid)?;
        if reward.currency != p.currency {
            return Err(ServiceError::invalid(
                "reward_currency",
                "the reward is in another currency than the payment",
            )
            .with_param("reward"));
        }
        if membership.balance < reward.points_cost {
            return Err(ServiceError::conflict(
                "insufficient_points",
                "not enough points for this reward",
            )
            .with_param("reward"));
        }
        // The discount never takes the charge below one minor unit.
        p.discount = reward
            .discount
            .min((p.amount + p.tip).saturating_sub(Amount::MINOR_UNIT));
        p.reward_id = Some(reward.id);
        Ok(())
    }

    /// Points a payment moves when it reaches `kind`:
    /// - `redemption` (the reward's cost, taken when the payment goes to the processor),
    /// - `redemption_reversal` (given back when it fails or is cancelled),
    /// - `accrual` (earned on what was captured, in every program of the merchant they belong to).
    pub(crate) async fn payment_points(
        &self,
        p: &PaymentRow,
        kind: &str,
    ) -> Result<Vec<PointsRow>> {
        let Some(person) = &p.person_id else {
            return Ok(vec![]);
        };
        let memberships = self.store.memberships_of(&p.merchant_id, person).await?;
        let now = self.now_s();
        let entry = |m: &MembershipRow, points: i64| PointsRow {
            id: new_id("pts"),
            membership_id: m.id.clone(),
            source_id: p.id.to_string(),
            kind: kind.to_string(),
            points,
            created: now,
        };
        let mut out = vec![];
        match kind {
            "redemption" | "redemption_reversal" => {
                let Some(reward_id) = &p.reward_id else {
                    return Ok(vec![]);
                };
                let Some(reward) = self.store.reward(reward_id).await? else {
                    return Ok(vec![]);
                };
                if let Some(m) = memberships
                    .iter()
                    .find(|m| m.program_id == reward.program_id)
                {
                    let sign = if kind == "redemption" { -1 } else { 1 };
                    out.push(entry(m, sign * reward.points_cost));
                }
            }
            _ => {
                let programs = self.store.programs(&p.merchant_id).await?;
                for m in &memberships {
                    if let Some(program) = programs.iter().find(|g| g.id == m.program_id) {
                        let points = p.amount_captured.minor_units() * program.points_per_unit
                            / p.currency.minor_per_unit();
                        if points > 0 {
                            out.push(entry(m, points));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The share of a payment's accrued points a refund takes back.
    pub(crate) async fn refund_points(
        &self,
        p: &PaymentRow,
        refund_id: &str,
        amount: Amount,
    ) -> Result<Vec<PointsRow>> {
        if p.amount_captured.is_zero() {
            return Ok(vec![]);
        }
        let now = self.now_s();
        Ok(self
            .store
            .points_of(p.id.as_str())
            .await?
            .into_iter()
            .filter(|e| e.kind == "accrual")
            .map(|e| PointsRow {
                id: new_id("pts"),
                membership_id: e.membership_id,
                source_id: refund_id.to_string(),
                kind: "accrual_reversal".into(),
                points: -(e.points * amount.minor_units() / p.amount_captured.minor_units()),
                created: now,
            })
            .filter(|e| e.points != 0)
            .collect())
    }
}
