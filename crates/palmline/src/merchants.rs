//! `palmline merchants ...`: onboarding merchants, run by the operator against the database (the
//! server may be running).

use crate::serve::{ConfigArgs, runtime};
use anyhow::{Context, Result};
use palm_service::Clock;

#[derive(clap::Subcommand)]
pub enum MerchantsArgs {
    /// Create a merchant with one store and its tills; prints its API key and till credentials
    /// once, as JSON (the database keeps only their hashes).
    Create {
        /// The merchant's name, as receipts show it.
        #[arg(long)]
        name: String,
        /// The store the tills are in.
        #[arg(long, default_value = "Main store")]
        store: String,
        /// A till's name; repeat for each till.
        #[arg(long = "till", default_value = "Till 1")]
        tills: Vec<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Every merchant: id, created, active or disabled, name.
    List(ConfigArgs),
    /// Refuse a merchant's API key, tills, gates and devices from now on (its data stays).
    Disable {
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub fn run(args: MerchantsArgs) -> Result<()> {
    let config = match &args {
        MerchantsArgs::Create { config, .. }
        | MerchantsArgs::List(config)
        | MerchantsArgs::Disable { config, .. } => config.load()?,
    };
    if config.database.is_none() {
        // The default SQLite file lives in the data directory, which may not exist yet.
        palm_server::keys::create_private_dir(&config.data_dir).map_err(anyhow::Error::msg)?;
    }
    runtime()?.block_on(async {
        let store = palm_store::SqlStore::open(&config.database_url())
            .await
            .context("cannot open the database")?;
        let now = palm_service::SystemClock.now_s();
        match args {
            MerchantsArgs::Create {
                name,
                store: shop,
                tills,
                ..
            } => {
                let creds =
                    palm_service::merchants::create(&store, &name, &shop, &tills, now).await?;
                println!("{}", serde_json::to_string_pretty(&creds)?);
            }
            MerchantsArgs::List(_) => {
                for m in palm_service::merchants::list(&store).await? {
                    let state = if m.disabled.is_some() {
                        "disabled"
                    } else {
                        "active"
                    };
                    println!("{}\t{}\t{state}\t{}", m.id, m.created, m.name);
                }
            }
            MerchantsArgs::Disable { id, .. } => {
                if !palm_service::merchants::disable(&store, &id, now).await? {
                    anyhow::bail!("no active merchant {id}");
                }
                println!("merchant {id} disabled: its key, tills, gates and devices are refused");
            }
        }
        Ok(())
    })
}
