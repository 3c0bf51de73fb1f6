//! The bank: accounts on the strong store; a transfer moves money and writes its event to the
//! transactional outbox in one SERIALIZABLE transaction, so an event exists exactly when its
//! transfer committed, whatever dies between the commit and the publish.

use crate::app::App;
use crate::kv::unexpected;
use crate::limits;
use crate::strong::{Reply, Request, Transfer};
use crate::ServiceError;
use std::collections::BTreeMap;

/// A committed transfer's event, as the outbox holds it and the relay publishes it to
/// [`crate::queue::TRANSFERS`] (with who published it, under which fencing token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferEvent {
    /// The transfer's id.
    pub id: i64,
    /// The account paying.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
    /// The relay instance that published it.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Its leadership's fencing token (the etcd revision of its election key).
    #[serde(default)]
    pub epoch: Option<i64>,
}

/// A transfer's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Transferred {
    /// The transfer's id, which its event carries (0 when nothing moved).
    pub id: i64,
    /// False when the source held less than the amount.
    pub done: bool,
}

impl App {
    /// Opens `account` with `balance`.
    pub async fn open(&self, account: &str, balance: i64) -> Result<(), ServiceError> {
        let account = limits::account(account)?;
        let balance = limits::amount("balance", balance, false)?;
        self.strong
            .call(Request::Open(account.into(), balance))
            .await?;
        Ok(())
    }

    /// Moves `amount` from `from` to `to`.
    pub async fn transfer(
        &self,
        from: &str,
        to: &str,
        amount: i64,
    ) -> Result<Transferred, ServiceError> {
        let from = limits::account(from)?;
        let to = limits::account(to)?;
        let amount = limits::amount("amount", amount, true)?;
        if from == to {
            return Err(ServiceError::Invalid(format!(
                "a transfer needs two accounts; both are {from:?}"
            )));
        }
        let request = Request::Transfer {
            from: from.into(),
            to: to.into(),
            amount,
        };
        match self.strong.call(request).await? {
            Reply::Transfer { id, done } => Ok(Transferred { id, done }),
            other => Err(unexpected(other)),
        }
    }

    /// Every balance, read in one transaction.
    pub async fn balances(&self) -> Result<BTreeMap<String, i64>, ServiceError> {
        match self.strong.call(Request::Balances).await? {
            Reply::Balances(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }
}

impl App {
    /// Every committed transfer, from the strong store.
    pub async fn transfers(&self) -> Result<Vec<Transfer>, ServiceError> {
        match self.strong.call(Request::Transfers).await? {
            Reply::Transfers(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    /// An account's activity timeline, as the workers recorded it in the eventual store.
    pub async fn timeline(&self, account: &str) -> Result<Vec<(i64, i64)>, ServiceError> {
        self.eventual.timeline(limits::account(account)?).await
    }
}
